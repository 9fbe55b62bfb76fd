// The test vectors in tests/vectors (the JAM PVM v0.4 vectors and Graypaper 0.8.0's, each suite
// with the opcode table and cost model of its Graypaper version) through the Swift package, on the
// interpreter and on the JIT with the generic sandbox; as bindings/python/tests/test_conformance.py.

import Foundation
import PolkaVM
import XCTest

struct Page: Decodable {
    let address: UInt32
    let length: UInt32
    let isWritable: Bool
    enum CodingKeys: String, CodingKey { case address, length, isWritable = "is-writable" }
}

struct Chunk: Decodable {
    let address: UInt32
    let contents: [UInt8]
}

struct Expected: Decodable {
    let status: String
    let regs: [UInt64]
    let pc: UInt32
    let gas: Int64
    let memory: [Chunk]
    let pageFaultAddress: UInt32?
    let hostcall: UInt32?
    enum CodingKeys: String, CodingKey { case status, regs, pc, gas, memory, pageFaultAddress = "page-fault-address", hostcall }
}

struct SetReg: Decodable {
    let reg: UInt8
    let value: UInt64
}

struct Empty: Decodable {}

/// One step of the steps format: exactly one of these is present.
struct Step: Decodable {
    var map: Page?
    var write: Chunk?
    var setReg: SetReg?
    var run: Empty?
    var assert: Expected?
    enum CodingKeys: String, CodingKey { case map, write, setReg = "set-reg", run, assert }
}

struct BlockCost: Decodable {
    let pc: UInt32
    let cost: Int64
}

/// A vector in either format: v0.4's flat one (initial-*, expected-*) or the steps format.
struct Vector: Decodable {
    let name: String
    let program: [UInt8]
    let initialPc: UInt32
    let initialGas: Int64
    let steps: [Step]?
    let blockGasCosts: [BlockCost]?
    let initialRegs: [UInt64]?
    let initialPageMap: [Page]?
    let initialMemory: [Chunk]?
    let expectedStatus: String?
    let expectedRegs: [UInt64]?
    let expectedPc: UInt32?
    let expectedMemory: [Chunk]?
    let expectedGas: Int64?
    let expectedPageFaultAddress: UInt32?
    enum CodingKeys: String, CodingKey {
        case name, program, steps, initialPc = "initial-pc", initialGas = "initial-gas", blockGasCosts = "block-gas-costs"
        case initialRegs = "initial-regs", initialPageMap = "initial-page-map", initialMemory = "initial-memory"
        case expectedStatus = "expected-status", expectedRegs = "expected-regs", expectedPc = "expected-pc"
        case expectedMemory = "expected-memory", expectedGas = "expected-gas", expectedPageFaultAddress = "expected-page-fault-address"
    }

    /// The steps; a flat vector becomes set-up steps, one run and one assert.
    var allSteps: [Step] {
        if let steps { return steps }
        var steps = (initialPageMap ?? []).map { Step(map: $0) }
        steps += (initialMemory ?? []).map { Step(write: $0) }
        steps += (initialRegs ?? []).enumerated().map { Step(setReg: SetReg(reg: UInt8($0.offset), value: $0.element)) }
        let expected = Expected(status: expectedStatus ?? "", regs: expectedRegs ?? [], pc: expectedPc ?? 0, gas: expectedGas ?? 0,
                                memory: expectedMemory ?? [], pageFaultAddress: expectedPageFaultAddress, hostcall: nil)
        return steps + [Step(run: Empty()), Step(assert: expected)]
    }
}

let suites: [String: JamConfig] = [
    "jam-pvm-v0.4": JamConfig(isa: .reviveV1, haltPc: true, costModel: .naive),
    "gp-0.8.0-polkavm-spectool": JamConfig(isa: .jamV1, haltPc: true, costModel: .fullL2Hit),
]

func vectors(of suite: String) throws -> [Vector] {
    let folder = repositoryRoot.appendingPathComponent("tests/vectors/\(suite)/programs")
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
    return try files.map { try JSONDecoder().decode(Vector.self, from: Data(contentsOf: folder.appendingPathComponent($0))) }
}

let statusNames: [Status: String] = [.halt: "halt", .panic: "panic", .outOfGas: "out-of-gas", .fault: "page-fault", .host: "host", .step: "step"]

/// How the vector's outcomes differ from the expected ones (empty: passed).
func differences(_ engine: Engine, _ vector: Vector, _ config: JamConfig) -> [String] {
    var differences: [String] = []
    do {
        let module = try Module.newJam(engine: engine, code: Data(vector.program), config: config)
        for block in vector.blockGasCosts ?? [] where module.blockGasCost(pc: block.pc) != block.cost {
            differences.append("block at pc \(block.pc) costs \(String(describing: module.blockGasCost(pc: block.pc))), expected \(block.cost)")
        }
        let vm = try Instance(module: module)
        try vm.setNextPc(pc: vector.initialPc)
        vm.setGas(gas: vector.initialGas)
        var mapped: [Page] = []
        var result: RunResult?
        for step in vector.allSteps {
            if let page = step.map {
                try vm.mapPages(address: page.address, length: page.length, writable: page.isWritable)
                mapped.append(page)
            } else if let chunk = step.write {
                // A test's set-up writes read-only pages too.
                let end = chunk.address + UInt32(chunk.contents.count)
                let readOnly = mapped.filter { !$0.isWritable && chunk.address < $0.address + $0.length && $0.address < end }
                for page in readOnly { try vm.protectPages(address: page.address, length: page.length, readOnly: false) }
                try vm.writeMemory(address: chunk.address, data: Data(chunk.contents))
                for page in readOnly { try vm.protectPages(address: page.address, length: page.length, readOnly: true) }
            } else if let setReg = step.setReg {
                vm.setReg(reg: Reg.allCases[Int(setReg.reg)], value: setReg.value)
            } else if step.run != nil {
                result = try vm.run()
            } else if let expected = step.assert, let result {
                differences += compare(vm, result, expected, mapped)
            } else {
                differences.append("a step that is none of map, write, set-reg, run, assert (or an assert before a run)")
            }
        }
    } catch {
        differences.append("\(error)")
    }
    return differences
}

func compare(_ vm: Instance, _ result: RunResult, _ expected: Expected, _ mapped: [Page]) -> [String] {
    var differences: [String] = []
    var status = statusNames[result.status] ?? "?"
    if status == "host" && expected.status == "ecalli" { status = "ecalli" }  // "host" in v0.4, "ecalli" in the steps format
    if status != expected.status { differences.append("status \(status), expected \(expected.status)") }
    if vm.regs() != expected.regs { differences.append("registers \(vm.regs()), expected \(expected.regs)") }
    if vm.graypaperPc() != expected.pc { differences.append("pc \(String(describing: vm.graypaperPc())), expected \(expected.pc)") }
    if result.gasRemaining != expected.gas { differences.append("gas \(result.gasRemaining), expected \(expected.gas)") }
    if let address = expected.pageFaultAddress, vm.faultAddress() != address {
        differences.append("fault address \(String(describing: vm.faultAddress())), expected \(address)")
    }
    if let hostcall = expected.hostcall, result.status != .host || result.hostCall != hostcall {
        differences.append("host call \(String(describing: result.hostCall)), expected \(hostcall)")
    }
    // Every mapped byte must equal the expected memory, zero where it lists nothing.
    for page in mapped {
        var bytes = [UInt8](repeating: 0, count: Int(page.length))
        for chunk in expected.memory where chunk.address >= page.address && chunk.address < page.address + page.length {
            let offset = Int(chunk.address - page.address)
            bytes.replaceSubrange(offset..<min(offset + chunk.contents.count, bytes.count), with: chunk.contents.prefix(bytes.count - offset))
        }
        if (try? vm.readMemory(address: page.address, length: page.length)) != Data(bytes) {
            differences.append("memory of the page at \(page.address) differs")
        }
    }
    return differences
}

final class ConformanceTests: XCTestCase {
    func testEveryVectorPassesOnBothBackends() throws {
        for (suite, config) in suites.sorted(by: { $0.key < $1.key }) {
            let all = try vectors(of: suite)
            XCTAssertGreaterThan(all.count, 300, suite)
            for engine in try pagingEngines() {
                let failures = all.compactMap { vector -> String? in
                    let found = differences(engine, vector, config)
                    return found.isEmpty ? nil : "\(vector.name): \(found.joined(separator: "; "))"
                }
                XCTAssertEqual(failures, [], "\(suite) on \(engine.backend())")
                print("Swift package (UniFFI), \(suite) on \(engine.backend()): \(all.count - failures.count) passed, \(failures.count) failed")
            }
        }
    }

    func testTheSuitesFailUnderEachOthersCostModel() throws {
        let swapped: [String: JamConfig] = [
            "jam-pvm-v0.4": JamConfig(isa: .reviveV1, haltPc: true, costModel: .fullL2Hit),
            "gp-0.8.0-polkavm-spectool": JamConfig(isa: .jamV1, haltPc: true, costModel: .naive),
        ]
        let engine = try pagingEngines()[0]
        for (suite, config) in swapped {
            let all = try vectors(of: suite)
            let reasons = all.map { differences(engine, $0, config) }.filter { !$0.isEmpty }
            XCTAssertGreaterThan(reasons.count, all.count / 2, suite)
            // Only the gas differs: the gas left, and for 0.8.0's vectors the block costs.
            let other = reasons.joined().filter { !$0.hasPrefix("gas ") && !$0.contains(" costs ") }
            XCTAssertEqual(other, [], suite)
        }
    }
}
