// The Swift benchmark runner, driven by `cargo bench` (benches/overhead/external.rs):
//
//     pvm-bench [--call] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM
//
// Sets up, warms up with one batch, times one batch of N and prints nanoseconds per unit (per host
// call, per run, per invocation or per load) on its last line. Host calls are served by the
// caller's own run loop (run, reg, setReg per host call), or with --call by `Instance.call` and a
// HostHandler (one foreign callback per host call). The same workloads as benches/python/bench.py.
//
//     pvm-bench costs BACKEND TEST_PROGRAM
//
// prints what each UniFFI call of a run-loop host call costs on its own (BENCHMARKS.md, "Swift").

import Dispatch
import Foundation
import PolkaVM

let gas: Int64 = 1 << 61
// Each UniFFI call costs microseconds: per-unit scenarios run smaller batches than the Rust
// layers' (the result is still time per unit); `compute` keeps N, its unit being the whole run.
let batchCap: [String: UInt64] = ["host_calls": 2000, "invocations": 500, "load": 10]

final class CopyA0ToA2: HostHandler, @unchecked Sendable {
    func onHostCall(number: UInt32, instance: Instance) throws -> UInt64? {
        instance.setReg(reg: .a2, value: instance.reg(reg: .a0))
        return nil
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

func runLoop(_ vm: Instance, _ pc: UInt32, _ n: UInt64) throws -> UInt64 {
    try vm.prepareCall(pc: pc, args: [n])
    vm.setGas(gas: gas)
    while true {
        let result = try vm.run()
        switch result.status {
        case .host: vm.setReg(reg: .a2, value: vm.reg(reg: .a0))
        case .halt: return vm.reg(reg: .a0)
        default: throw BenchError(description: "unexpected status \(result.status)")
        }
    }
}

func runCall(_ vm: Instance, _ name: String, _ n: UInt64, _ handler: HostHandler) throws -> UInt64 {
    let outcome = try vm.call(name: name, args: [n], handler: handler, gas: gas)
    guard outcome.result.status == .halt else { throw BenchError(description: "unexpected status \(outcome.result.status)") }
    return vm.reg(reg: .a0)
}

func check(_ condition: Bool, _ what: @autoclosure () -> String) throws {
    if !condition { throw BenchError(description: what()) }
}

/// Nanoseconds per call of `body`, the median of 11 batches of `n` after one warm-up batch.
func timePerCall(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for round in 0...11 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<n { try body() }
        if round > 0 { samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)) }
    }
    return samples.sorted()[samples.count / 2]
}

func costs(_ backend: String, _ testPath: String) throws {
    let engine = try Engine(config: EngineConfig(backend: backend == "compiler" ? .compiler : .interpreter))
    let module = try Module(engine: engine, blob: Data(contentsOf: URL(fileURLWithPath: testPath)), config: ModuleConfig())
    let vm = try Instance(module: module)
    let n = 20_000
    var sink: UInt64 = 0
    let rows: [(String, Double)] = try [
        ("gas() (no arguments, a scalar back)", timePerCall(n) { sink &+= UInt64(bitPattern: vm.gas()) }),
        ("reg(reg:) (the Reg enum goes in a RustBuffer)", timePerCall(n) { sink &+= vm.reg(reg: .a0) }),
        ("setReg(reg:value:)", timePerCall(n) { vm.setReg(reg: .a2, value: sink) }),
        ("regs() (13 values back in a RustBuffer)", timePerCall(n) { sink &+= vm.regs()[7] }),
        ("run() from one host call to the next", {
            try vm.prepareCall(pc: module.exportPc(name: "host_loop"), args: [UInt64(n * 13)])
            vm.setGas(gas: gas)
            return try timePerCall(n) { _ = try vm.run() }
        }()),
        ("call(): one HostHandler callback", try {
            let handler = CopyA0ToA2()
            return try timePerCall(1) { _ = try vm.call(name: "host_loop", args: [UInt64(n)], handler: handler, gas: gas) } / Double(n)
        }()),
    ]
    for (name, nanoseconds) in rows {
        print("\(name): \(String(format: "%.0f", nanoseconds)) ns")
    }
    if sink == 42 { print("") }  // keeps the reads alive
}

func main() throws {
    var args = Array(CommandLine.arguments.dropFirst())
    if args.first == "costs", args.count == 3 {
        return try costs(args[1], args[2])
    }
    let useCall = args.first == "--call"
    if useCall { args.removeFirst() }
    guard args.count == 5, let requested = UInt64(args[2]) else {
        FileHandle.standardError.write("usage: pvm-bench [--call] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM\n".data(using: .utf8)!)
        exit(2)
    }
    let scenario = args[0]
    let n = batchCap[scenario].map { min($0, requested) } ?? requested
    let engine = try Engine(config: EngineConfig(backend: args[1] == "compiler" ? .compiler : .interpreter))
    let testBlob = try Data(contentsOf: URL(fileURLWithPath: args[3]))
    let largeBlob = try Data(contentsOf: URL(fileURLWithPath: args[4]))
    let module = try Module(engine: engine, blob: testBlob, config: ModuleConfig())
    let vm = try Instance(module: module)
    let handler = CopyA0ToA2()

    let workloads: [String: () throws -> Void] = [
        "host_calls": {
            let a0 = useCall ? try runCall(vm, "host_loop", n, handler) : try runLoop(vm, module.exportPc(name: "host_loop"), n)
            try check(a0 == n, "host_loop returned \(a0)")
        },
        "compute": {
            let a0 = useCall ? try runCall(vm, "sum", n, handler) : try runLoop(vm, module.exportPc(name: "sum"), n)
            try check(a0 == n * (n + 1) / 2, "sum returned \(a0)")
        },
        "invocations": {
            let add = try module.exportPc(name: "add")
            for _ in 0..<n {
                let instance = try Instance(module: module)
                if useCall {
                    _ = try instance.call(name: "add", args: [40, 2], handler: handler, gas: gas)
                } else {
                    try instance.prepareCall(pc: add, args: [40, 2])
                    instance.setGas(gas: gas)
                    try check(instance.run().status == .halt, "add did not halt")
                }
                try check(instance.reg(reg: .a0) == 42, "add returned \(instance.reg(reg: .a0))")
            }
        },
        "load": {
            for _ in 0..<n {
                _ = try Module(engine: engine, blob: largeBlob, config: ModuleConfig())
            }
        },
    ]
    guard let workload = workloads[scenario] else {
        FileHandle.standardError.write("pvm-bench: unknown scenario \(scenario)\n".data(using: .utf8)!)
        exit(2)
    }
    let per = scenario == "compute" ? 1 : n
    try workload()
    let start = DispatchTime.now().uptimeNanoseconds
    try workload()
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    print(String(format: "%.3f", Double(elapsed) / Double(per)))
}

do {
    try main()
} catch {
    FileHandle.standardError.write("pvm-bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}
