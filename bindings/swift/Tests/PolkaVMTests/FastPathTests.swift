// Instance's hot methods call the library's fast paths (Sources/PolkaVM/FastPath.swift): the
// same results, errors and messages as the generated UniFFI methods they stand in for (uniffiReg,
// uniffiRun, ...), checked side by side on twin instances. The rest of the suite runs through them.

import Foundation
import PolkaVM
import XCTest

/// One engine per backend for these tests: JIT host calls on a thread that has run several JIT
/// engines get very slow (polkavm pins the thread to a core for the first).
private let engines = Dictionary(uniqueKeysWithValues: backends.map { ($0, try! engine($0)) })

/// Two instances of one module: one for the fast methods, one for the UniFFI ones.
private func twins(_ backend: Backend) throws -> (Instance, Instance) {
    let module = try Module(engine: engines[backend]!, blob: testProgram, config: ModuleConfig())
    return try (Instance(module: module), Instance(module: module))
}

/// What a thrown error reads as: its type and description.
private func outcome<T>(_ body: () throws -> T) -> String {
    do {
        return "ok: \(try body())"
    } catch {
        return "\(type(of: error)): \(error)"
    }
}

/// A0 doubled at every host call; throws `error` at host call `failAt`.
private final class Doubling: HostHandler, @unchecked Sendable {
    var numbers: [UInt32] = []
    let failAt: UInt32?
    let error: Error?

    init(failAt: UInt32? = nil, error: Error? = nil) {
        self.failAt = failAt
        self.error = error
    }

    func onHostCall(number: UInt32, instance: Instance) throws -> UInt64? {
        numbers.append(number)
        if number == failAt, let error { throw error }
        return instance.reg(reg: .a0) &* 2
    }
}

private struct Multiline: Error, CustomStringConvertible {
    var description: String { "first line\nsecond line" }
}

final class FastPathTests: XCTestCase {
    func testAHostCallProgramRunsTheSameThroughBothPaths() throws {
        for backend in backends {
            let (fast, slow) = try twins(backend)
            for vm in [fast, slow] { try vm.prepareCallExport(name: "host", args: [5]) }
            fast.setGas(gas: fullGas)
            slow.uniffiSetGas(gas: fullGas)
            XCTAssertEqual(fast.gas(), fullGas)
            XCTAssertEqual(slow.uniffiGas(), fullGas)
            var trace: [Status] = []
            while true {
                let (a, b) = (try fast.run(), try slow.uniffiRun())
                XCTAssertEqual(a, b, "\(backend)")
                trace.append(a.status)
                for reg in Reg.allCases { XCTAssertEqual(fast.reg(reg: reg), slow.uniffiReg(reg: reg), "\(backend) \(reg)") }
                if a.status != .host { break }
                fast.setReg(reg: .a1, value: 100)
                slow.uniffiSetReg(reg: .a1, value: 100)
            }
            XCTAssertEqual(trace, [.host, .host, .halt], "\(backend)")
            XCTAssertEqual(fast.reg(reg: .a0), 105)
            XCTAssertEqual(fast.gas(), slow.uniffiGas())
            XCTAssertLessThan(fast.gas(), fullGas)
            // Each path reads what the other wrote.
            fast.setReg(reg: .a5, value: UInt64.max)
            fast.setGas(gas: Int64.min)
            XCTAssertEqual(fast.uniffiReg(reg: .a5), UInt64.max)
            XCTAssertEqual(fast.uniffiGas(), Int64.min)
            slow.uniffiSetReg(reg: .s1, value: 7)
            XCTAssertEqual(slow.reg(reg: .s1), 7)
        }
    }

    func testPrepareCallSetsUpAsTheUniFFIMethod() throws {
        let (fast, slow) = try twins(.interpreter)
        let module = try Module(engine: engines[.interpreter]!, blob: testProgram, config: ModuleConfig())
        let pc = try module.exportPc(name: "add")
        for args: [UInt64] in [[], [40, 2], [UInt64.max], Array(repeating: UInt64.max - 1, count: 9)] {
            try fast.prepareCall(pc: pc, args: args)
            try slow.uniffiPrepareCall(pc: pc, args: args)
            XCTAssertEqual(Reg.allCases.map { fast.reg(reg: $0) }, Reg.allCases.map { slow.uniffiReg(reg: $0) }, "\(args)")
        }
        try fast.prepareCall(pc: pc)
        XCTAssertEqual(fast.reg(reg: .a0), 0)
        XCTAssertEqual(fast.nextPc(), pc)
        let tooMany = [UInt64](repeating: 1, count: 20)
        XCTAssertEqual(outcome { try fast.prepareCall(pc: pc, args: tooMany) }, outcome { try slow.uniffiPrepareCall(pc: pc, args: tooMany) })
        XCTAssertTrue(outcome { try fast.prepareCall(pc: pc, args: tooMany) }.hasPrefix("PvmError"))
    }

    func testEveryStopReadsTheSame() throws {
        for backend in backends {
            let (fast, slow) = try twins(backend)
            for (export, gas) in [("trap", fullGas), ("spin", Int64(1000)), ("add", fullGas)] {
                for vm in [fast, slow] { try vm.prepareCallExport(name: export, args: [40, 2]) }
                fast.setGas(gas: gas)
                slow.uniffiSetGas(gas: gas)
                XCTAssertEqual(try fast.run(), try slow.uniffiRun(), "\(backend) \(export)")
            }
        }
    }

    func testRunErrorsAreTheUniFFIErrorsWithTheSameMessages() throws {
        let (fast, slow) = try twins(.interpreter)
        let fromFast = pvmError({ _ = try fast.run() }, isWrongState)
        XCTAssertEqual(fromFast, pvmError({ _ = try slow.uniffiRun() }, isWrongState))
        XCTAssertTrue(fromFast.contains("no call prepared"), fromFast)
        XCTAssertEqual(outcome { try fast.run() }, outcome { try slow.uniffiRun() })
        // A zero read after a failure is a value.
        XCTAssertEqual(fast.reg(reg: .a3), 0)
        XCTAssertEqual(fast.gas(), 0)
    }

    func testCallGivesTheOutcomeOfTheUniFFICall() throws {
        for backend in backends {
            let (fast, slow) = try twins(backend)
            let cases: [(String, [UInt64], Int64)] = [
                ("host", [5], fullGas), ("host_loop", [50], fullGas), ("add", [40, 2], fullGas), ("spin", [], 500), ("trap", [], fullGas),
            ]
            for (export, args, gas) in cases {
                let (a, b) = (Doubling(), Doubling())
                XCTAssertEqual(try fast.call(name: export, args: args, handler: a, gas: gas),
                               try slow.uniffiCall(name: export, args: args, handler: b, gas: gas), "\(backend) \(export)")
                XCTAssertEqual(a.numbers, b.numbers, "\(backend) \(export)")
            }
        }
    }

    func testCallHandlerErrorsReadAsThroughUniFFI() throws {
        let errors: [Error] = [HostError.Abort(reason: "no such service"), Boom(), Multiline(), PvmError.Memory(message: "x")]
        for error in errors {
            let (fast, slow) = try twins(.interpreter)
            let fromFast = pvmError({ _ = try fast.call(name: "host", args: [1], handler: Doubling(failAt: 8, error: error), gas: fullGas) },
                                    isHostAborted)
            let fromUniFFI = pvmError({ _ = try slow.uniffiCall(name: "host", args: [1], handler: Doubling(failAt: 8, error: error), gas: fullGas) },
                                      isHostAborted)
            XCTAssertEqual(fromFast, fromUniFFI)
            XCTAssertTrue(fromFast.hasPrefix("host call 8 aborted: "), fromFast)
            XCTAssertFalse(fromFast.contains("\n"), fromFast)
            // The call is over: the instance calls again.
            let outcome = try fast.call(name: "add", args: [1, 2], handler: Doubling(), gas: fullGas)
            XCTAssertEqual(outcome.result.status, .halt)
            XCTAssertEqual(fast.reg(reg: .a0), 3)
        }
    }

    func testCallSetUpErrorsReadAsThroughUniFFI() throws {
        let (fast, slow) = try twins(.interpreter)
        for (export, gas) in [("no_such_export", Optional(fullGas)), ("add", nil), ("bad\u{0}name", fullGas)] {
            XCTAssertEqual(outcome { try fast.call(name: export, args: [1], handler: Doubling(), gas: gas) },
                           outcome { try slow.uniffiCall(name: export, args: [1], handler: Doubling(), gas: gas) }, export)
        }
        let tooMany = [UInt64](repeating: 1, count: 20)
        XCTAssertEqual(outcome { try fast.call(name: "add", args: tooMany, handler: Doubling(), gas: fullGas) },
                       outcome { try slow.uniffiCall(name: "add", args: tooMany, handler: Doubling(), gas: fullGas) })
        XCTAssertTrue(outcome { try fast.call(name: "no_such_export", args: [], handler: Doubling(), gas: fullGas) }.hasPrefix("PvmError"))
    }

    func testAHandlerReEnteringGetsWrongStateThroughBothPaths() throws {
        let (fast, slow) = try twins(.interpreter)
        var seen: [String] = []
        let reEnter = Handler { _, instance in
            seen.append(pvmError({ _ = try instance.run() }, isWrongState))
            seen.append(pvmError({ _ = try instance.call(name: "add", args: [1, 2], handler: Recorder(), gas: fullGas) }, isWrongState))
            seen.append(pvmError({ _ = try instance.uniffiRun() }, isWrongState))
            instance.setReg(reg: .a1, value: instance.reg(reg: .a0))
            return nil
        }
        XCTAssertEqual(try fast.call(name: "host", args: [21], handler: reEnter, gas: fullGas).result.status, .halt)
        XCTAssertEqual(fast.reg(reg: .a0), 42)
        XCTAssertEqual(try slow.uniffiCall(name: "host", args: [21], handler: reEnter, gas: fullGas).result.status, .halt)
        XCTAssertEqual(slow.uniffiReg(reg: .a0), 42)
        XCTAssertEqual(seen.count, 12)
        XCTAssertEqual(Set(seen).count, 1, "\(seen)")
        XCTAssertTrue(seen[0].contains("busy"), seen[0])
    }

    func testAnotherThreadWaitsForAFastCallToEnd() throws {
        let vm = try twins(.interpreter).0
        let inHandler = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let lock = NSLock()
        var read: UInt64?
        let slowHandler = Handler { number, instance in
            if number == 7 {  // the first of the two host calls
                instance.setReg(reg: .a1, value: 10)
                inHandler.signal()
                _ = release.wait(timeout: .now() + 5)
            }
            return nil
        }
        let reader = Thread {
            _ = inHandler.wait(timeout: .now() + 5)
            let value = vm.reg(reg: .a0)
            lock.withLock { read = value }
        }
        var status: Status?
        let caller = Thread {
            let result = try? vm.call(name: "host", args: [7], handler: slowHandler, gas: fullGas).result.status
            lock.withLock { status = result }
        }
        reader.start()
        caller.start()
        usleep(300_000)
        XCTAssertNil(lock.withLock { read }, "another thread's reg() did not wait for the call")
        release.signal()
        for _ in 0..<1000 where !(reader.isFinished && caller.isFinished) { usleep(10_000) }  // at most 10 s
        lock.withLock {
            XCTAssertEqual(status, .halt)
            XCTAssertEqual(read, 17)
        }
    }

    func testThreadsWithTheirOwnInstancesThroughTheFastPath() throws {
        for backend in backends {
            let module = try Module(engine: engines[backend]!, blob: testProgram, config: ModuleConfig())
            let lock = NSLock()
            var failures: [String] = []
            DispatchQueue.concurrentPerform(iterations: 4) { seed in
                do {
                    let vm = try Instance(module: module)
                    for i in 0..<200 {
                        try vm.prepareCallExport(name: "host_loop", args: [3])
                        vm.setGas(gas: fullGas)
                        var calls = 0
                        var result = try vm.run()
                        while result.status == .host {
                            calls += 1
                            vm.setReg(reg: .a2, value: UInt64(seed * 1000 + i))
                            result = try vm.run()
                        }
                        if result.status != .halt || vm.reg(reg: .a0) != 3 || calls != 3 || vm.reg(reg: .a2) != UInt64(seed * 1000 + i) {
                            lock.withLock { failures.append("\(seed) \(i) \(result)") }
                        }
                    }
                } catch {
                    lock.withLock { failures.append("\(seed): \(error)") }
                }
            }
            XCTAssertEqual(failures, [], "\(backend)")
        }
    }
}
