// The Swift benchmark runner, driven by `cargo bench` (benches/overhead/external.rs):
//
//     pvm-bench [--call | --c-abi] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM
//
// Sets up, warms up with one batch, times one batch of N and prints nanoseconds per unit (per host
// call, per run, per invocation or per load) on its last line. Host calls are served by the
// caller's own run loop (run, reg, setReg per host call), or with --call by `Instance.call` and a
// HostHandler (called by the package for each host call). With --c-abi, the same loops call the C
// ABI (pvm_instance_run, _get_reg, _set_reg...) straight from Swift: Swift's floor. The same
// workloads as benches/python/bench.py.
//
//     pvm-bench costs [--c-abi] BACKEND TEST_PROGRAM
//
// prints what each call of a run-loop host call costs on its own, through the package and the
// generated UniFFI methods, or with --c-abi the C ABI calls they wrap (BENCHMARKS.md, "Swift").

import CPolkaVM
import Dispatch
import Foundation
import PolkaVM

let gas: Int64 = 1 << 61
// A UniFFI constructor or load costs microseconds: those scenarios run smaller batches than the
// Rust layers' (the result is still time per unit). Host calls, through the fast paths, keep N, and
// so does `compute`, its unit being the whole run.
let batchCap: [String: UInt64] = ["invocations": 500, "load": 10]

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

/// The workloads of `main`, through the package.
func packageWorkloads(_ backend: String, _ n: UInt64, _ useCall: Bool, _ testBlob: Data, _ largeBlob: Data) throws
    -> [String: () throws -> Void]
{
    let engine = try Engine(config: EngineConfig(backend: backend == "compiler" ? .compiler : .interpreter))
    let module = try Module(engine: engine, blob: testBlob, config: ModuleConfig())
    let vm = try Instance(module: module)
    let handler = CopyA0ToA2()

    return [
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
}

/// The C ABI's loop: `runLoop` with pvm_instance_run, _get_reg and _set_reg.
func cRunLoop(_ vm: PvmInstance, _ pc: UInt32, _ n: UInt64) throws -> UInt64 {
    var n = n
    try check(pvm_instance_prepare_call_args(vm, pc, &n, 1) == 0, "prepare_call failed")
    pvm_instance_set_gas(vm, gas)
    while true {
        let result = pvm_instance_run(vm)
        switch UInt32(result.status) {
        case UInt32(PVM_STATUS_HOST): pvm_instance_set_reg(vm, UInt32(PVM_REG_A2), pvm_instance_get_reg(vm, UInt32(PVM_REG_A0)))
        case UInt32(PVM_STATUS_HALT): return pvm_instance_get_reg(vm, UInt32(PVM_REG_A0))
        default: throw BenchError(description: "unexpected status \(result.status)")
        }
    }
}

func cExportPc(_ module: PvmModule, _ name: String) throws -> UInt32 {
    let index = Array(name.utf8).withUnsafeBufferPointer { pvm_module_find_export(module, $0.baseAddress, $0.count) }
    try check(index >= 0, "no export \(name)")
    return pvm_module_export_pc(module, UInt32(index))
}

/// The workloads of `main`, written against the C ABI.
func cWorkloads(_ backend: String, _ n: UInt64, _ testBlob: Data, _ largeBlob: Data) throws -> [String: () throws -> Void] {
    guard let engine = backend == "compiler" ? pvm_engine_new() : pvm_engine_new_interpreter() else {
        throw BenchError(description: "pvm_engine_new failed")
    }
    func load(_ blob: Data) -> PvmModule? {
        blob.withUnsafeBytes { pvm_module_new(engine, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) }
    }
    guard let module = load(testBlob), let vm = pvm_instance_new(engine, module) else {
        throw BenchError(description: "pvm_module_new or pvm_instance_new failed")
    }
    return [
        "host_calls": {
            let a0 = try cRunLoop(vm, cExportPc(module, "host_loop"), n)
            try check(a0 == n, "host_loop returned \(a0)")
        },
        "compute": {
            let a0 = try cRunLoop(vm, cExportPc(module, "sum"), n)
            try check(a0 == n * (n + 1) / 2, "sum returned \(a0)")
        },
        "invocations": {
            let add = try cExportPc(module, "add")
            var args: [UInt64] = [40, 2]
            for _ in 0..<n {
                guard let instance = pvm_instance_new(engine, module) else { throw BenchError(description: "pvm_instance_new failed") }
                try check(pvm_instance_prepare_call_args(instance, add, &args, 2) == 0, "prepare_call failed")
                pvm_instance_set_gas(instance, gas)
                try check(pvm_instance_run(instance).status == UInt32(PVM_STATUS_HALT), "add did not halt")
                try check(pvm_instance_get_reg(instance, UInt32(PVM_REG_A0)) == 42, "add returned the wrong value")
                pvm_instance_free(instance)
            }
        },
        "load": {
            for _ in 0..<n {
                guard let large = load(largeBlob) else { throw BenchError(description: "pvm_module_new failed") }
                pvm_module_free(large)
            }
        },
    ]
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

/// Prints what each call of a run-loop host call costs alone: through the package and the generated
/// UniFFI methods, or with `cABI` the C ABI calls they wrap (in a process of its own: JIT host calls
/// on a thread that runs two engines get very slow).
func costs(_ backend: String, _ testPath: String, cABI: Bool) throws {
    let blob = try Data(contentsOf: URL(fileURLWithPath: testPath))
    let n = 20_000
    var sink: UInt64 = 0
    var rows: [(String, Double)] = []
    if cABI {
        guard let engine = backend == "compiler" ? pvm_engine_new() : pvm_engine_new_interpreter(),
              let module = blob.withUnsafeBytes({ pvm_module_new(engine, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) }),
              let vm = pvm_instance_new(engine, module)
        else { throw BenchError(description: "pvm_engine_new, pvm_module_new or pvm_instance_new failed") }
        let (a0, a2) = (UInt32(PVM_REG_A0), UInt32(PVM_REG_A2))
        rows = try [
            ("pvm_instance_get_gas", timePerCall(n) { sink &+= UInt64(bitPattern: pvm_instance_get_gas(vm)) }),
            ("pvm_instance_get_reg", timePerCall(n) { sink &+= pvm_instance_get_reg(vm, a0) }),
            ("pvm_instance_set_reg", timePerCall(n) { pvm_instance_set_reg(vm, a2, sink) }),
            ("pvm_instance_run from one host call to the next", {
                var count = UInt64(n * 13)
                try check(pvm_instance_prepare_call_args(vm, try cExportPc(module, "host_loop"), &count, 1) == 0, "prepare_call failed")
                pvm_instance_set_gas(vm, gas)
                return timePerCall(n) { _ = pvm_instance_run(vm) }
            }()),
        ]
    } else {
        let engine = try Engine(config: EngineConfig(backend: backend == "compiler" ? .compiler : .interpreter))
        let module = try Module(engine: engine, blob: blob, config: ModuleConfig())
        let vm = try Instance(module: module)
        func runToHostCalls(_ run: @escaping () throws -> RunResult) throws -> Double {
            try vm.prepareCall(pc: module.exportPc(name: "host_loop"), args: [UInt64(n * 13)])
            vm.setGas(gas: gas)
            return try timePerCall(n) { _ = try run() }
        }
        func perHandlerCall(_ call: (HostHandler) throws -> RunOutcome) throws -> Double {
            let handler = CopyA0ToA2()
            return try timePerCall(1) { _ = try call(handler) } / Double(n)
        }
        rows = try [
            ("gas()", timePerCall(n) { sink &+= UInt64(bitPattern: vm.gas()) }),
            ("UniFFI: uniffiGas() (no arguments, a scalar back)", timePerCall(n) { sink &+= UInt64(bitPattern: vm.uniffiGas()) }),
            ("reg(reg:)", timePerCall(n) { sink &+= vm.reg(reg: .a0) }),
            ("UniFFI: uniffiReg(reg:) (the Reg enum goes in a RustBuffer)", timePerCall(n) { sink &+= vm.uniffiReg(reg: .a0) }),
            ("setReg(reg:value:)", timePerCall(n) { vm.setReg(reg: .a2, value: sink) }),
            ("UniFFI: uniffiSetReg(reg:value:)", timePerCall(n) { vm.uniffiSetReg(reg: .a2, value: sink) }),
            ("UniFFI: regs() (13 values back in a RustBuffer)", timePerCall(n) { sink &+= vm.regs()[7] }),
            ("run() from one host call to the next", runToHostCalls { try vm.run() }),
            ("UniFFI: uniffiRun() from one host call to the next", runToHostCalls { try vm.uniffiRun() }),
            ("call(): one HostHandler call (reg, setReg in it)",
             perHandlerCall { try vm.call(name: "host_loop", args: [UInt64(n)], handler: $0, gas: gas) }),
            ("UniFFI: uniffiCall(): one HostHandler callback (reg, setReg in it)",
             perHandlerCall { try vm.uniffiCall(name: "host_loop", args: [UInt64(n)], handler: $0, gas: gas) }),
        ]
    }
    for (name, nanoseconds) in rows {
        print("\(name): \(String(format: "%.0f", nanoseconds)) ns")
    }
    if sink == 42 { print("") }  // keeps the reads alive
}

func main() throws {
    var args = Array(CommandLine.arguments.dropFirst())
    if args.first == "costs", args.count == 3 || (args.count == 4 && args[1] == "--c-abi") {
        return try costs(args[args.count - 2], args[args.count - 1], cABI: args.count == 4)
    }
    let useCall = args.first == "--call", useC = args.first == "--c-abi"
    if useCall || useC { args.removeFirst() }
    guard args.count == 5, let requested = UInt64(args[2]) else {
        FileHandle.standardError.write("usage: pvm-bench [--call | --c-abi] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM\n".data(using: .utf8)!)
        exit(2)
    }
    let scenario = args[0]
    let n = batchCap[scenario].map { min($0, requested) } ?? requested
    let testBlob = try Data(contentsOf: URL(fileURLWithPath: args[3]))
    let largeBlob = try Data(contentsOf: URL(fileURLWithPath: args[4]))
    let workloads = try useC ? cWorkloads(args[1], n, testBlob, largeBlob) : packageWorkloads(args[1], n, useCall, testBlob, largeBlob)
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
