// Threads: engines and modules are shared, each thread runs its own instances; one instance used by
// several threads at once serves one call at a time and refuses the others, never corrupting them.

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

    func testOneInstanceServesOneCallAtATime() throws {
        for backend in backends {
            let vm = try newInstance(backend)
            let threads = 4
            let lock = NSLock()
            var completed = 0
            var refusals: [String] = []
            var wrong: [String] = []
            // Each host call sleeps a little, so that the calls overlap.
            let slow = Handler { _, _ in
                usleep(100)
                return nil
            }
            DispatchQueue.concurrentPerform(iterations: threads) { index in
                for _ in 0..<5 {
                    do {
                        let outcome = try vm.call(name: "host_loop", args: [10], handler: slow, gas: fullGas)
                        lock.lock()
                        if outcome.result.status == .halt && outcome.regs[Int(Reg.a0.rawValue)] == 10 {
                            completed += 1
                        } else {
                            wrong.append("\(outcome)")
                        }
                        lock.unlock()
                    } catch let error as PvmError {
                        lock.lock()
                        if isWrongState(error) && message(of: error).hasPrefix("instance is busy") {
                            refusals.append(message(of: error))
                        } else {
                            wrong.append("\(error)")
                        }
                        lock.unlock()
                    } catch {
                        lock.lock()
                        wrong.append("\(error)")
                        lock.unlock()
                    }
                }
            }
            XCTAssertEqual(wrong, [], "\(backend)")
            XCTAssertGreaterThan(completed, 0, "\(backend)")
            XCTAssertEqual(completed + refusals.count, threads * 5, "\(backend)")
            // Afterwards the instance is idle and whole.
            XCTAssertEqual(try vm.callRaw("add", [2, 3]).status, .halt)
            XCTAssertEqual(vm.reg(reg: .a0), 5)
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
