// JAM mode: Graypaper program blobs (Module(engine:jamCode:)), dynamic paging and the Graypaper's
// pc, on the interpreter and on the JIT with the generic sandbox; as tests/jam.rs does in Rust.

import Foundation
import PolkaVM
import XCTest

/// The Graypaper blob of a program written in polkavm's assembly.
func graypaper(_ source: String) throws -> Data {
    try graypaperBlob(container: assemble(source: source))
}

func jamInstance(_ engine: Engine, _ code: Data, _ config: JamConfig = JamConfig()) throws -> Instance {
    try Instance(module: Module.newJam(engine: engine, code: code, config: config))
}

extension Instance {
    func start(at pc: UInt32, gas: Int64) throws -> RunResult {
        try setNextPc(pc: pc)
        setGas(gas: gas)
        return try run()
    }
}

final class JamTests: XCTestCase {
    func testFallingOffTheEndPanicsAtTheEndOfTheCode() throws {
        let code = try graypaper("%isa = jam_v1\npub @main:\n    i32 a2 = a0 + a1\n")
        for engine in try pagingEngines() {
            let vm = try jamInstance(engine, code, JamConfig(costModel: .naive))  // one gas per instruction
            XCTAssertNil(vm.graypaperPc(), "no run yet")
            vm.setReg(reg: .a0, value: 1)
            vm.setReg(reg: .a1, value: 2)
            let result = try vm.start(at: 0, gas: 10_000)
            XCTAssertEqual(result.status, .panic, "\(engine.backend())")
            XCTAssertEqual(vm.reg(reg: .a2), 3)
            // One gas for the add, one for the implicit trap; the pc is the code's length.
            XCTAssertEqual(result.gasRemaining, 9_998, "\(engine.backend())")
            XCTAssertEqual(vm.graypaperPc(), 3)
        }
    }

    func testPageFaultsReportThePageAndResumeOnceMapped() throws {
        let code = try graypaper("%isa = jam_v1\npub @main:\n    a1 = u32 [a0]\n    u32 [a0 + 4] = a1\n    trap\n")
        for engine in try pagingEngines() {
            let backend = engine.backend()
            let vm = try jamInstance(engine, code)
            vm.setReg(reg: .a0, value: 0x2_0FFC)
            var result = try vm.start(at: 0, gas: 100)
            XCTAssertEqual(result.status, .fault, "\(backend)")
            XCTAssertEqual(result.faultAddress, 0x2_0000)
            XCTAssertEqual(vm.faultAddress(), 0x2_0000)
            XCTAssertEqual(vm.graypaperPc(), 0)

            try vm.mapPages(address: 0x2_0000, length: 0x1000, writable: true)
            try vm.writeMemory(address: 0x2_0FFC, data: Data([0x2A, 0, 0, 0]))
            try vm.protectPages(address: 0x2_0000, length: 0x1000, readOnly: true)
            XCTAssertTrue(pvmError({ try vm.writeMemory(address: 0x2_0FFC, data: Data([1])) }, isMemory).contains("0x00020ffc"),
                          "read-only for the host too")
            result = try vm.run()
            XCTAssertEqual(result.status, .fault, "\(backend): the store crosses a page")
            XCTAssertEqual(result.faultAddress, 0x2_1000)
            XCTAssertEqual(vm.reg(reg: .a1), 0x2A, "\(backend): the load completed")
            XCTAssertGreaterThan(vm.graypaperPc() ?? 0, 0)

            try vm.mapPages(address: 0x2_1000, length: 0x1000, writable: false)
            XCTAssertEqual(try vm.run().status, .fault, "\(backend): the next page is read-only")
            try vm.protectPages(address: 0x2_1000, length: 0x1000, readOnly: false)
            XCTAssertEqual(try vm.run().status, .panic, "\(backend)")
            XCTAssertEqual(try vm.readMemory(address: 0x2_1000, length: 4), Data([0x2A, 0, 0, 0]))

            try vm.freePages(address: 0x2_0000, length: 0x2000)
            _ = pvmError({ _ = try vm.readMemory(address: 0x2_0000, length: 1) }, isMemory)
        }
    }

    func testTheGraypaperPcOfAHaltIsKnownWithHaltPc() throws {
        // The container's pcs carry over into its Graypaper blob.
        let container = testProgram
        let code = try graypaperBlob(container: container)
        let sumPc = try Module(engine: engine(.interpreter), blob: container).exportPc(name: "sum")
        let haltAddress: UInt64 = 0xFFFF_0000
        for engine in try pagingEngines() {
            let plain = try jamInstance(engine, code)
            try plain.setRegs(values: [haltAddress, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])
            XCTAssertEqual(try plain.start(at: sumPc, gas: 1000).status, .halt, "\(engine.backend())")
            XCTAssertEqual(plain.reg(reg: .a0), 55)
            XCTAssertNil(plain.graypaperPc(), "polkavm alone does not know the pc of a halt")

            let tracked = try jamInstance(engine, code, JamConfig(haltPc: true))
            try tracked.setRegs(values: [haltAddress, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])
            let result = try tracked.start(at: sumPc, gas: 1000)
            XCTAssertEqual(result.status, .halt)
            XCTAssertEqual(tracked.reg(reg: .a0), 55)
            XCTAssertGreaterThan(tracked.graypaperPc() ?? 0, sumPc, "the ret after the loop")
            XCTAssertEqual(result.gasRemaining, plain.gas(), "the same gas either way")
        }
    }

    func testHostCallsInJamMode() throws {
        let code = try graypaper("%isa = jam_v1\npub @main:\n    ecalli 9\n    a0 = a0 + 1\n    trap\n")
        for engine in try pagingEngines() {
            let vm = try jamInstance(engine, code)
            vm.setReg(reg: .a0, value: 41)
            let result = try vm.start(at: 0, gas: 100)
            XCTAssertEqual(result.status, .host, "\(engine.backend())")
            XCTAssertEqual(result.hostCall, 9)
            XCTAssertEqual(vm.graypaperPc(), 0, "the ecalli")
            XCTAssertEqual(try vm.run().status, .panic)
            XCTAssertEqual(vm.reg(reg: .a0), 42)
        }
    }

    func testBadJamInputIsAnError() throws {
        let code = try graypaper("%isa = jam_v1\npub @main:\n    trap\n")
        // Without allowDynamicPaging the engine cannot load a JAM program.
        let message = pvmError({ _ = try Module.newJam(engine: engine(.interpreter), code: code, config: JamConfig()) }, isUnsupported)
        XCTAssertTrue(message.contains("allow_dynamic_paging"), message)
        let interpreter = try pagingEngines()[0]
        _ = pvmError({ _ = try Module.newJam(engine: interpreter, code: Data([0, 0, 5, 0]), config: JamConfig()) }, isInvalidProgram)  // truncated
        XCTAssertFalse(pvmError({ _ = try Module.newJam(engine: interpreter, code: code, config: JamConfig(pageSize: 100)) }, isInvalidArgument)
            .isEmpty)
        // A container that is not one: the same error as loading it as a program.
        XCTAssertEqual(pvmError({ _ = try graypaperBlob(container: Data([1, 2, 3])) }, isInvalidProgram),
                       pvmError({ _ = try Module(engine: engine(.interpreter), blob: Data([1, 2, 3])) }, isInvalidProgram))
        let latest64 = try assemble(source: "%isa = latest64\npub @main:\n    trap\n")
        XCTAssertTrue(pvmError({ _ = try graypaperBlob(container: latest64) }, isUnsupported).contains("no Graypaper encoding"))
    }

    func testTheJamDefaultGivesGraypaper080GasAndNaiveIsSelectable() throws {
        // inst_load_u8_nok of the Graypaper 0.8.0 vectors: one basic block, a load from an unmapped page.
        let file = repositoryRoot.appendingPathComponent("tests/vectors/gp-0.8.0-polkavm-spectool/programs/inst_load_u8_nok.json")
        let vector = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let program = Data(try XCTUnwrap(vector["program"] as? [Int]).map { UInt8($0) })
        let initialGas = try XCTUnwrap(vector["initial-gas"] as? Int64)
        let steps = try XCTUnwrap(vector["steps"] as? [[String: Any]])
        let expected = try XCTUnwrap(steps.last?["assert"] as? [String: Any])
        XCTAssertEqual(expected["status"] as? String, "page-fault")
        XCTAssertEqual(expected["page-fault-address"] as? Int, 0x20000)
        let expectedGas = try XCTUnwrap(expected["gas"] as? Int64)
        XCTAssertEqual(expectedGas, 9975)
        for engine in try pagingEngines() {
            for (config, gas) in [(JamConfig(), expectedGas), (JamConfig(costModel: .fullL2Hit), expectedGas),
                                  (JamConfig(costModel: .naive), initialGas - 2)] {
                let module = try Module.newJam(engine: engine, code: program, config: config)
                XCTAssertEqual(module.blockGasCost(pc: 0), initialGas - gas, "\(config)")
                let vm = try Instance(module: module)
                let result = try vm.start(at: 0, gas: initialGas)
                XCTAssertEqual(result.status, .fault, "\(engine.backend()) \(config)")
                XCTAssertEqual(vm.faultAddress(), 0x20000)
                XCTAssertEqual(result.gasRemaining, gas, "\(engine.backend()) \(config)")
            }
        }
        let jamEngine = try pagingEngines()[0]
        XCTAssertEqual(try Module.newJam(engine: jamEngine, code: program, config: JamConfig()).costModel(), .fullL2Hit)
        let naiveEngine = try Engine(config: EngineConfig(backend: .interpreter, allowDynamicPaging: true, defaultCostModel: .naive))
        XCTAssertEqual(try Module.newJam(engine: naiveEngine, code: program, config: JamConfig()).costModel(), .fullL2Hit,
                       "a JAM module without a choice takes Graypaper 0.8.0's")
        XCTAssertEqual(try Module(engine: naiveEngine, blob: testProgram).costModel(), .naive, "a module without a choice takes the engine's")
        XCTAssertEqual(try Module(engine: naiveEngine, blob: testProgram, config: ModuleConfig(costModel: .fullL3Hit)).costModel(), .fullL3Hit)
    }

    func testEveryCostModelRunsTheSameProgramToTheSameResult() throws {
        let code = try graypaperBlob(container: testProgram)
        let sumPc = try Module(engine: engine(.interpreter), blob: testProgram).exportPc(name: "sum")
        for engine in try pagingEngines() {
            var gasUsed: [CostModel: Int64] = [:]
            for model in CostModel.allCases {
                let vm = try jamInstance(engine, code, JamConfig(costModel: model))
                try vm.setRegs(values: [0xFFFF_0000, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0])
                let result = try vm.start(at: sumPc, gas: 1_000_000)
                XCTAssertEqual(result.status, .halt, "\(engine.backend()) \(model)")
                XCTAssertEqual(vm.reg(reg: .a0), 5050)
                gasUsed[model] = 1_000_000 - result.gasRemaining
            }
            // The naive model charges one gas per instruction: 3 per iteration of sum's loop, and more.
            XCTAssertGreaterThanOrEqual(gasUsed[.naive] ?? 0, 300, "\(engine.backend())")
            XCTAssertEqual(Set(gasUsed.values).count > 1, true, "the models charge differently: \(gasUsed)")
        }
    }
}
