// Behaviour tests of the Swift bindings; the same tests exist for Python (bindings/python/tests)
// and Kotlin (bindings/kotlin/src/test). JAM mode and threads have their own files.

import Foundation
import PolkaVM
import XCTest

final class PolkaVMTests: XCTestCase {
    func testVersion() {
        XCTAssertTrue(version().hasPrefix("polkavm-ffi "))
    }

    func testEngineReportsItsBackend() throws {
        for backend in backends {
            XCTAssertEqual(try engine(backend).backend(), backend)
        }
    }

    func testDefaultsPickAWorkingEngine() throws {
        let vm = try Instance(module: Module(engine: Engine(), blob: testProgram))
        XCTAssertEqual(try vm.callRaw("add", [2, 3]).status, .halt)
        XCTAssertEqual(vm.reg(reg: .a0), 5)
    }

    func testEveryStatus() throws {
        for backend in backends {
            let vm = try newInstance(backend)

            var result = try vm.callRaw("add", [40, 2])
            XCTAssertEqual(result.status, .halt)
            XCTAssertEqual(vm.reg(reg: .a0), 42)
            XCTAssertTrue(result.gasRemaining > 0 && result.gasRemaining < fullGas)
            XCTAssertEqual(vm.gas(), result.gasRemaining)

            XCTAssertEqual(try vm.callRaw("trap", []).status, .panic)

            result = try vm.callRaw("spin", [], gas: 1000)
            XCTAssertEqual(result.status, .outOfGas)
            XCTAssertLessThanOrEqual(result.gasRemaining, 0)

            result = try vm.callRaw("host", [5])
            XCTAssertEqual(result.status, .host)
            XCTAssertEqual(result.hostCall, 7)
            XCTAssertEqual(vm.reg(reg: .a0), 5)
            vm.setReg(reg: .a1, value: 100)
            result = try vm.run()
            XCTAssertEqual(result.status, .host)
            XCTAssertEqual(result.hostCall, 8)
            XCTAssertEqual(try vm.run().status, .halt)
            XCTAssertEqual(vm.reg(reg: .a0), 105)

            let stepping = try newInstance(backend, ModuleConfig(stepTracing: true))
            XCTAssertEqual(try stepping.callRaw("add", [1, 2]).status, .step)
            var pcs: Set<UInt32?> = [stepping.pc()]
            var steps = 1
            while true {
                result = try stepping.run()
                if result.status != .step { break }
                pcs.insert(stepping.pc())
                steps += 1
            }
            XCTAssertEqual(result.status, .halt)
            XCTAssertTrue(steps >= 2 && pcs.count >= 2)
            XCTAssertEqual(stepping.reg(reg: .a0), 3)
        }
    }

    func testFaultReportsThePageAndMappingPagesFixesIt() throws {
        let engine = try Engine(config: EngineConfig(backend: .interpreter, allowDynamicPaging: true))
        let vm = try Instance(module: Module(engine: engine, blob: testProgram, config: ModuleConfig(dynamicPaging: true)))
        let result = try vm.callRaw("load", [0x20000])
        XCTAssertEqual(result.status, .fault)
        XCTAssertEqual(result.faultAddress, 0x20000)
        XCTAssertEqual(vm.faultAddress(), 0x20000)
        try vm.mapPages(address: 0x20000, length: 4096, writable: true)
        try vm.writeMemory(address: 0x20004, data: Data([5, 0, 0, 0]))
        XCTAssertEqual(try vm.callRaw("load", [0x20004]).status, .halt)
        XCTAssertEqual(vm.reg(reg: .a0), 5)
        XCTAssertEqual(pvmError({ _ = try vm.sbrk(size: 10) }, isUnsupported), "sbrk is not available with dynamic paging")
    }

    func testLoopsUntilOutOfGas() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            XCTAssertEqual(try vm.call(name: "sum", args: [10_000_000], handler: Recorder(), gas: 5000).result.status, .outOfGas)
            let outcome = try vm.call(name: "sum", args: [1000], handler: Recorder(), gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt)
            XCTAssertEqual(outcome.regs[Int(Reg.a0.rawValue)], 500_500)
        }
    }

    func testGasMeteringCanBeDisabled() throws {
        let vm = try newInstance(.interpreter, ModuleConfig(gasMetering: .disabled))
        let result = try vm.callRaw("sum", [100], gas: 7)
        XCTAssertEqual(result.status, .halt)
        XCTAssertEqual(result.gasRemaining, 7)
        XCTAssertEqual(vm.reg(reg: .a0), 5050)
    }

    func testRegistersAndProgramCounters() throws {
        for backend in backends {
            let module = try Module(engine: engine(backend), blob: testProgram)
            let vm = try Instance(module: module)
            let values = (0..<13).map { UInt64($0 * 3 + 1) }
            try vm.setRegs(values: values)
            XCTAssertEqual(vm.regs(), values)
            XCTAssertEqual(Reg.allCases.map { vm.reg(reg: $0) }, values)
            vm.setReg(reg: .a5, value: UInt64.max)
            XCTAssertEqual(vm.regs()[Int(Reg.a5.rawValue)], UInt64.max)
            XCTAssertEqual(pvmError({ try vm.setRegs(values: Array(values.prefix(12))) }, isInvalidArgument), "set_regs needs 13 values, not 12")

            let hostPc = try module.exportPc(name: "host")
            _ = try vm.callRaw("host", [])
            XCTAssertEqual(vm.pc(), hostPc)
            XCTAssertGreaterThan(vm.nextPc()!, hostPc)
            let outcome = try vm.runWithRegs()
            XCTAssertEqual(outcome.result.status, .host)
            XCTAssertEqual(outcome.regs, vm.regs())
        }
    }

    func testMemory() throws {
        for backend in backends {
            let module = try Module(engine: engine(backend), blob: testProgram)
            let vm = try Instance(module: module)
            let info = module.memoryInfo()
            XCTAssertEqual(info.pageSize, 4096)
            XCTAssertEqual(try vm.readMemory(address: info.roDataAddress, length: 4), Data([1, 2, 3, 4]))
            XCTAssertEqual(try vm.readMemory(address: info.rwDataAddress, length: 4), Data([42, 0, 0, 0]))

            XCTAssertEqual(try vm.callRaw("store", [UInt64(info.rwDataAddress) + 8, 0xDEAD_BEEF]).status, .halt)
            XCTAssertEqual(try vm.readMemory(address: info.rwDataAddress + 8, length: 4), Data([0xEF, 0xBE, 0xAD, 0xDE]))
            try vm.writeMemory(address: info.rwDataAddress, data: Data([7, 0, 0, 0]))
            XCTAssertEqual(try vm.callRaw("load", [UInt64(info.rwDataAddress)]).status, .halt)
            XCTAssertEqual(vm.reg(reg: .a0), 7)

            // Without dynamic paging a guest access to read-only or unmapped memory traps...
            XCTAssertEqual(try vm.callRaw("store", [UInt64(info.roDataAddress), 1]).status, .panic)
            XCTAssertEqual(try vm.callRaw("load", [0]).status, .panic)
            // ...and a host access is an error.
            let message = pvmError({ try vm.writeMemory(address: info.roDataAddress, data: Data([1])) }, isMemory)
            XCTAssertTrue(message.hasPrefix(String(format: "write of 1 bytes at 0x%08x failed", info.roDataAddress)), message)
            _ = pvmError({ _ = try vm.readMemory(address: 0, length: 4) }, isMemory)

            try vm.reset()
            XCTAssertEqual(try vm.readMemory(address: info.rwDataAddress, length: 12), Data([42] + [UInt8](repeating: 0, count: 11)))
            XCTAssertEqual(vm.regs(), [UInt64](repeating: 0, count: 13))
        }
    }

    func testSbrkAndHeapSize() throws {
        for backend in backends {
            let module = try Module(engine: engine(backend), blob: testProgram)
            let vm = try Instance(module: module)
            let before = try vm.heapSize()
            let top = try vm.sbrk(size: 100)
            XCTAssertEqual(try vm.heapSize(), before + 100)
            XCTAssertEqual(top, module.memoryInfo().heapBase + before + 100)
            try vm.writeMemory(address: top - 4, data: Data([9, 9, 9, 9]))
            XCTAssertTrue(pvmError({ _ = try vm.sbrk(size: UInt32.max) }, isMemory).contains("heap cannot grow that far"))
        }
    }

    func testExportsAndImports() throws {
        let module = try Module(engine: engine(.interpreter), blob: testProgram)
        let exports = module.exports()
        XCTAssertEqual(exports.map { $0.name }.sorted(), ["add", "host", "host_loop", "load", "spin", "store", "sum", "trap"])
        XCTAssertEqual(Set(exports.map { $0.pc }).count, exports.count)
        for export in exports {
            XCTAssertEqual(try module.exportPc(name: export.name), export.pc)
        }
        XCTAssertEqual(module.imports(), [])  // the program calls host functions by number only
        XCTAssertEqual(pvmError({ _ = try module.exportPc(name: "nope") }, isInvalidArgument), "no export named \"nope\"")
    }

    func testCallDispatchesHostCallsToTheHandler() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            let recorder = Recorder()
            var outcome = try vm.call(name: "host_loop", args: [25], handler: recorder, gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt)
            XCTAssertEqual(recorder.numbers, [UInt32](repeating: 1, count: 25))
            XCTAssertEqual(outcome.regs[Int(Reg.a0.rawValue)], 25)
            XCTAssertTrue(outcome.result.gasRemaining > 0 && outcome.result.gasRemaining < fullGas)

            let info = try Module(engine: engine(backend), blob: testProgram).memoryInfo()
            let host = Handler { number, instance in
                if number == 7 {  // reads and writes registers and memory, leaves A0 alone
                    XCTAssertEqual(instance.reg(reg: .a0), 5)
                    try instance.writeMemory(address: info.rwDataAddress, data: Data([0x11, 0x22]))
                    let bytes = try instance.readMemory(address: info.rwDataAddress, length: 2)
                    instance.setReg(reg: .a1, value: UInt64(bytes[bytes.startIndex]) | UInt64(bytes[bytes.startIndex + 1]) << 8)
                    return nil
                }
                return 100  // host call 8 returns its result in A0
            }
            outcome = try vm.call(name: "host", args: [5], handler: host, gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt)
            XCTAssertEqual(outcome.regs[Int(Reg.a0.rawValue)], 100 + 0x2211)
        }
    }

    func testAHandlerThatThrowsAbortsTheCall() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            let broken = Handler { _, _ in throw Boom() }
            let message = pvmError({ _ = try vm.call(name: "host_loop", args: [3], handler: broken, gas: fullGas) }, isHostAborted)
            XCTAssertTrue(message.hasPrefix("host call 1 aborted: Boom"), message)

            let stop = Handler { _, _ in throw HostError.Abort(reason: "quota exceeded") }
            XCTAssertEqual(pvmError({ _ = try vm.call(name: "host_loop", args: [3], handler: stop, gas: fullGas) }, isHostAborted),
                           "host call 1 aborted: quota exceeded")

            // The instance is still usable afterwards.
            XCTAssertEqual(try vm.call(name: "add", args: [1, 1], handler: Recorder(), gas: fullGas).regs[Int(Reg.a0.rawValue)], 2)
        }
    }

    func testRunningFromAHandlerIsAnErrorNotADeadlock() throws {
        let vm = try newInstance(.interpreter)
        var errors: [String] = []
        let reentrant = Handler { _, instance in
            errors.append(pvmError({ _ = try instance.run() }, isWrongState))
            errors.append(pvmError({ _ = try instance.call(name: "add", args: [1, 2], handler: Recorder(), gas: fullGas) }, isWrongState))
            errors.append(pvmError({ try instance.reset() }, isWrongState))
            return nil
        }
        XCTAssertEqual(try vm.call(name: "host_loop", args: [1], handler: reentrant, gas: fullGas).result.status, .halt)
        XCTAssertEqual(errors.count, 3)
        XCTAssertTrue(errors.allSatisfy { $0.hasPrefix("instance is busy: run/call called re-entrantly") }, "\(errors)")
    }

    func testBadBlobsAndArgumentsAreErrors() throws {
        let interpreter = try engine(.interpreter)
        XCTAssertEqual(pvmError({ _ = try Module(engine: interpreter, blob: Data()) }, isInvalidProgram), "blob is empty")
        XCTAssertTrue(pvmError({ _ = try Module(engine: interpreter, blob: Data("ELF\u{7f}....".utf8)) }, isInvalidProgram).contains("bad magic"))
        XCTAssertTrue(pvmError({ _ = try Module(engine: interpreter, blob: testProgram.prefix(20)) }, isInvalidProgram)
            .contains("not a valid PolkaVM program"))
        XCTAssertTrue(pvmError({ _ = try Module(engine: interpreter, blob: testProgram, config: ModuleConfig(pageSize: 1000)) }, isInvalidArgument)
            .contains("page size 1000 is invalid"))
        XCTAssertTrue(pvmError({ _ = try Module(engine: interpreter, blob: testProgram, config: ModuleConfig(dynamicPaging: true)) }, isUnsupported)
            .contains("allow_dynamic_paging"))
        XCTAssertTrue(pvmError({ _ = try assemble(source: "this is not assembly") }, isInvalidProgram).contains("assembly failed"))

        let vm = try Instance(module: Module(engine: interpreter, blob: testProgram))
        XCTAssertTrue(pvmError({ _ = try vm.run() }, isWrongState).hasPrefix("cannot run: no call prepared"))
        XCTAssertTrue(pvmError({ try vm.prepareCall(pc: 0, args: [UInt64](repeating: 0, count: 10)) }, isInvalidArgument)
            .hasPrefix("too many arguments: 10"))
        XCTAssertEqual(pvmError({ _ = try vm.call(name: "nope", args: [], handler: Recorder(), gas: fullGas) }, isInvalidArgument),
                       "no export named \"nope\"")
    }

    #if os(Linux)
    func testTheLibraryLoadedIsTheInstalledOne() throws {
        XCTAssertEqual(try engine(.interpreter).backend(), .interpreter)  // loads the library
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        let paths = Set(maps.split(separator: "\n").compactMap { line in
            line.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init)
        }.filter { $0.hasSuffix("/libpolkavm_ffi.so") })
        XCTAssertEqual(paths.count, 1, "\(paths)")
        // `make install` put it beside the pkg-config file SwiftPM linked with.
        let folder = URL(fileURLWithPath: paths.first ?? "/").deletingLastPathComponent()
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("pkgconfig/polkavm-ffi.pc").path),
                      "\(folder.path) is not an installed prefix's lib folder")
        let cargo = try String(contentsOf: repositoryRoot.appendingPathComponent("Cargo.toml"), encoding: .utf8)
        let crateVersion = cargo.split(separator: "\n").first { $0.hasPrefix("version = ") }?.split(separator: "\"")[1]
        XCTAssertEqual(version(), "polkavm-ffi \(crateVersion ?? "?") (polkavm 0.37)")
    }
    #endif

    func testOutOfGasResumesWhenGivenMoreGas() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            var result = try vm.callRaw("sum", [1000], gas: 100)
            XCTAssertEqual(result.status, .outOfGas, "\(backend)")
            XCTAssertLessThan(vm.gas(), 100)
            vm.setGas(gas: fullGas)
            result = try vm.run()
            XCTAssertEqual(result.status, .halt, "\(backend)")
            XCTAssertEqual(vm.reg(reg: .a0), 500_500, "\(backend)")
        }
    }

    func testPrepareCallByProgramCounter() throws {
        for backend in backends {
            let module = try Module(engine: engine(backend), blob: testProgram)
            let vm = try Instance(module: module)
            try vm.prepareCall(pc: module.exportPc(name: "add"), args: [20, 22])
            vm.setGas(gas: fullGas)
            XCTAssertEqual(try vm.run().status, .halt)
            XCTAssertEqual(vm.reg(reg: .a0), 42)
            XCTAssertNil(vm.faultAddress())
            // The next call starts where setNextPc says, with the registers as they are.
            try vm.setRegs(values: [0xFFFF_0000, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])
            try vm.setNextPc(pc: module.exportPc(name: "sum"))
            vm.setGas(gas: fullGas)
            XCTAssertEqual(try vm.run().status, .halt)
            XCTAssertEqual(vm.reg(reg: .a0), 55)
        }
    }

    func testInstancesOfOneModuleHaveTheirOwnMemoryAndRegisters() throws {
        for backend in backends {
            let module = try Module(engine: engine(backend), blob: testProgram)
            let first = try Instance(module: module)
            let second = try Instance(module: module)
            let rwData = module.memoryInfo().rwDataAddress
            XCTAssertEqual(try first.callRaw("store", [UInt64(rwData), 7]).status, .halt)
            XCTAssertEqual(try first.readMemory(address: rwData, length: 1), Data([7]))
            XCTAssertEqual(try second.readMemory(address: rwData, length: 1), Data([42]))
            XCTAssertEqual(first.reg(reg: .a0), 7)
            XCTAssertEqual(second.reg(reg: .a0), 0)
        }
    }

    func testAHandlerMayRunAnotherInstance() throws {
        for backend in backends {
            let outer = try newInstance(backend)
            let inner = try newInstance(backend)
            var innerResults: [UInt64] = []
            let nesting = Handler { _, instance in
                // A whole call of another instance, itself with a handler, from inside this one.
                let outcome = try inner.call(name: "host_loop", args: [2], handler: Recorder(), gas: fullGas)
                innerResults.append(outcome.regs[Int(Reg.a0.rawValue)])
                XCTAssertEqual(instance.reg(reg: .a1), UInt64(innerResults.count - 1))
                return nil
            }
            let outcome = try outer.call(name: "host_loop", args: [3], handler: nesting, gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt, "\(backend)")
            XCTAssertEqual(outcome.regs[Int(Reg.a0.rawValue)], 3)
            XCTAssertEqual(innerResults, [2, 2, 2])
        }
    }

    func testAHandlerErrorLeavesTheInstanceReusable() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            var calls = 0
            let failsOnTheSecondCall = Handler { _, _ in
                calls += 1
                if calls == 2 { throw HostError.Abort(reason: "second call refused") }
                return nil
            }
            XCTAssertEqual(pvmError({ _ = try vm.call(name: "host_loop", args: [5], handler: failsOnTheSecondCall, gas: fullGas) }, isHostAborted),
                           "host call 1 aborted: second call refused")
            XCTAssertEqual(calls, 2, "the call stops at the failing host call")
            let outcome = try vm.call(name: "host_loop", args: [4], handler: Recorder(), gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt)
            XCTAssertEqual(outcome.regs[Int(Reg.a0.rawValue)], 4)
        }
    }

    func testTheCompilerRunsInTheGenericSandboxToo() throws {
        let engine = try Engine(config: EngineConfig(backend: .compiler, sandbox: .generic))
        XCTAssertEqual(engine.backend(), .compiler)
        let vm = try Instance(module: Module(engine: engine, blob: testProgram))
        let recorder = Recorder()
        let outcome = try vm.call(name: "host_loop", args: [4], handler: recorder, gas: fullGas)
        XCTAssertEqual(outcome.result.status, .halt)
        XCTAssertEqual(recorder.numbers, [1, 1, 1, 1])
    }

    func testErrorsDescribeThemselves() throws {
        do {
            _ = try Module(engine: engine(.interpreter), blob: Data())
            XCTFail("an empty blob loaded")
        } catch let error as PvmError {
            XCTAssertEqual(error, .InvalidProgram(message: "blob is empty"))
            XCTAssertTrue(error.localizedDescription.contains("blob is empty"), error.localizedDescription)
            XCTAssertTrue("\(error)".contains("InvalidProgram"), "\(error)")
        }
    }

    func testGasMayBeOmittedOnlyWithoutMetering() throws {
        for backend in backends {
            let unmetered = try newInstance(backend, ModuleConfig(gasMetering: .disabled))
            XCTAssertEqual(try unmetered.call(name: "sum", args: [100], handler: Recorder()).regs[Int(Reg.a0.rawValue)], 5050)
            let metered = try newInstance(backend)
            XCTAssertEqual(pvmError({ _ = try metered.call(name: "sum", args: [100], handler: Recorder()) }, isInvalidArgument),
                           "call needs gas: the module meters gas (GasMetering.DISABLED turns metering off)")
            XCTAssertEqual(try metered.call(name: "sum", args: [100], handler: Recorder(), gas: fullGas).regs[Int(Reg.a0.rawValue)], 5050)
        }
    }

    func testAHandlerMayReadAndSetTheGas() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            var seen: [Int64] = []
            let refill = Handler { _, instance in
                seen.append(instance.gas())
                instance.setGas(gas: 500)
                return nil
            }
            let outcome = try vm.call(name: "host_loop", args: [3], handler: refill, gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt, "\(backend)")
            XCTAssertEqual(seen.count, 3)
            XCTAssertTrue(seen[0] < fullGas && seen[1] < 500 && seen[2] < 500, "\(seen)")
            XCTAssertLessThan(outcome.result.gasRemaining, 500, "the run went on with the gas the handler set")
        }
    }
}
