// Threads: engines and modules are shared, each thread runs its own instances; one instance used by
// several threads at once serves one call at a time, the others waiting for it. The same tests
// exist for Kotlin (SharedInstanceTest) and Python (test_threads.py).

import Dispatch
import Foundation
import PolkaVM
import XCTest

final class ThreadTests: XCTestCase {
    func testThreadsRunTheirOwnInstancesOfASharedModule() throws {
        for backend in backends {
            let module = try Module(engine: engine(backend), blob: testProgram)
            let threads = 4
            let lock = NSLock()
            var results = [UInt64?](repeating: nil, count: threads)
            var failures: [String] = []
            DispatchQueue.concurrentPerform(iterations: threads) { index in
                do {
                    let vm = try Instance(module: module)
                    let recorder = Recorder()
                    var last: UInt64 = 0
                    for round in 0..<5 {  // many calls, so that the threads' calls overlap
                        let n = UInt64(index * 10 + round + 1)
                        let outcome = try vm.call(name: "host_loop", args: [n], handler: recorder, gas: fullGas)
                        guard outcome.result.status == .halt, outcome.regs[Int(Reg.a0.rawValue)] == n else {
                            throw PvmError.Panic(message: "thread \(index): \(outcome)")
                        }
                        last = try vm.call(name: "sum", args: [n], handler: recorder, gas: fullGas).regs[Int(Reg.a0.rawValue)]
                    }
                    lock.lock()
                    results[index] = last
                    lock.unlock()
                } catch {
                    lock.lock()
                    failures.append("\(error)")
                    lock.unlock()
                }
            }
            XCTAssertEqual(failures, [], "\(backend)")
            XCTAssertEqual(results, (0..<threads).map { index in
                let n = UInt64(index * 10 + 5)
                return n * (n + 1) / 2
            }, "\(backend)")
        }
    }

    func testThreadsSharingAnInstanceTakeTurns() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            let threads = 3
            let rounds = 10
            let lock = NSLock()
            var failures: [String] = []
            var checked = [Int](repeating: 0, count: threads)
            var log: [Int] = []  // which thread each host call belonged to
            var done = false
            func fail(_ message: String) {
                lock.lock()
                failures.append(message)
                lock.unlock()
            }
            // Accessors from another thread wait for the running call: they never land inside one.
            let meddler = Thread {
                while !(lock.withLock { done }) {
                    vm.setReg(reg: .a0, value: 999)
                    if vm.regs().count != 13 { fail("regs() did not return 13 values") }
                }
            }
            meddler.start()
            DispatchQueue.concurrentPerform(iterations: threads) { index in
                for round in 0..<rounds {
                    let n = UInt64(2 + index + round % 3)
                    var nextA0 = n
                    // Every host call of host_loop(n) sees its own call's registers: A0 = n, n-1, ...
                    let countdown = Handler { _, instance in
                        if instance.reg(reg: .a0) != nextA0 { throw HostError.Abort(reason: "A0 \(instance.reg(reg: .a0)), expected \(nextA0)") }
                        nextA0 -= 1
                        lock.withLock { log.append(index) }
                        return nil
                    }
                    do {
                        var outcome = try vm.call(name: "host_loop", args: [n], handler: countdown, gas: fullGas)
                        if outcome.regs[Int(Reg.a0.rawValue)] != n || nextA0 != 0 { fail("thread \(index): host_loop(\(n)) gave \(outcome)") }
                        outcome = try vm.call(name: "sum", args: [n * 10], handler: Recorder(), gas: fullGas)
                        if outcome.regs[Int(Reg.a0.rawValue)] != n * 10 * (n * 10 + 1) / 2 { fail("thread \(index): sum gave \(outcome)") }
                        lock.withLock { checked[index] += 1 }
                    } catch {
                        fail("thread \(index): \(error)")
                    }
                }
            }
            lock.withLock { done = true }
            while !meddler.isFinished { usleep(1000) }
            XCTAssertEqual(failures, [], "\(backend)")
            XCTAssertEqual(checked, [Int](repeating: rounds, count: threads), "\(backend)")
            // One call at a time: each call's host calls are one unbroken run in the log.
            var runs: [Int] = []
            for (position, thread) in log.enumerated() where position == 0 || log[position - 1] != thread {
                runs.append(thread)
            }
            XCTAssertLessThanOrEqual(runs.count, threads * rounds, "\(backend): calls interleaved")
        }
    }

    func testAnInstanceMovesBetweenThreads() throws {
        let vm = try newInstance(.compiler)
        let queue = DispatchQueue(label: "other")
        let first = try queue.sync { try vm.call(name: "sum", args: [10], handler: Recorder(), gas: fullGas) }
        XCTAssertEqual(first.regs[Int(Reg.a0.rawValue)], 55)
        // Memory written on one thread is read on another.
        let rwData = try Module(engine: engine(.compiler), blob: testProgram).memoryInfo().rwDataAddress
        try queue.sync { try vm.writeMemory(address: rwData, data: Data([9, 8, 7, 6])) }
        XCTAssertEqual(try vm.readMemory(address: rwData, length: 4), Data([9, 8, 7, 6]))
        XCTAssertEqual(try vm.call(name: "sum", args: [100], handler: Recorder(), gas: fullGas).regs[Int(Reg.a0.rawValue)], 5050)
    }
}
