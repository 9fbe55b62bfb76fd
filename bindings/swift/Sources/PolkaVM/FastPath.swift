// Instance's hot methods (reg, setReg, gas, setGas, run, prepareCall, and the loop of call), calling the
// library's pvm_uniffi_instance_* functions (src/uniffi_api/fast.rs, declared in
// Sources/PolkaVMFast) straight from Swift. A UniFFI call encodes the Reg enum and decodes the
// RunResult record through RustBuffers; these pass primitives and call the same Rust methods, so
// results, errors, messages and locking are those of the generated methods, which uniffi.toml
// renames (uniffiReg, uniffiRun, ...) so that these take their names. Hand-written, unlike
// PolkaVM.swift. They pass the handle the object holds (bindings/generate.sh makes it internal),
// as the generated methods pass a clone of it; the object lives while its method runs.

import PolkaVMFFI
import PolkaVMFast

extension Instance {
    /**
     * The value of register `reg`.
     */
    public func reg(reg: Reg) -> UInt64 {
        var value: UInt64 = 0
        if pvm_uniffi_instance_read_reg(handle, reg.rawValue, &value) != 0 { crashOnFastError() }
        return value
    }

    /**
     * Sets register `reg` to `value`.
     */
    public func setReg(reg: Reg, value: UInt64) {
        if pvm_uniffi_instance_set_reg(handle, reg.rawValue, value) != 0 { crashOnFastError() }
    }

    /**
     * The gas left.
     */
    public func gas() -> Int64 {
        var gas: Int64 = 0
        if pvm_uniffi_instance_read_gas(handle, &gas) != 0 { crashOnFastError() }
        return gas
    }

    /**
     * Sets the gas left.
     */
    public func setGas(gas: Int64) {
        if pvm_uniffi_instance_set_gas(handle, gas) != 0 { crashOnFastError() }
    }

    /**
     * Sets up a call: registers zeroed, RA the return-to-host address, SP the stack top,
     * A0.. (then T0..T2) the arguments, next pc = `pc`.
     */
    public func prepareCall(pc: UInt32, args: [UInt64] = []) throws {
        let prepared = args.withUnsafeBufferPointer { args in
            pvm_uniffi_instance_prepare_call(handle, pc, args.baseAddress, args.count)
        }
        if prepared != 0 { throw lastFastError() }
    }

    /**
     * Runs from the next program counter until the program stops.
     */
    public func run() throws -> RunResult {
        var out = PvmUniffiRunResult()
        if pvm_uniffi_instance_run(handle, &out) != 0 { throw lastFastError() }
        return RunResult(out)
    }

    /**
     * Calls export `name` with `args` and `gas`, and runs until the program stops for a reason
     * other than a host call; each host call goes to `handler` first. `gas` may be left out
     * (None) only when the module does not meter gas.
     */
    public func call(name: String, args: [UInt64], handler: HostHandler, gas: Int64? = nil) throws -> RunOutcome {
        // The handler is called here rather than through a UniFFI callback: the Rust side begins
        // the call (the same checks, and the same busy state for other threads and re-entry) and
        // runs it stop by stop. A handler's error aborts the call as it would through UniFFI.
        var name = name
        let begun = name.withUTF8 { name in
            args.withUnsafeBufferPointer { args in
                pvm_uniffi_instance_call_begin(handle, name.baseAddress, name.count, args.baseAddress, args.count,
                                               gas != nil, gas ?? 0)
            }
        }
        if begun != 0 { throw lastFastError() }
        defer { pvm_uniffi_instance_call_end(handle) }
        var out = PvmUniffiRunResult()
        while true {
            if pvm_uniffi_instance_call_run(handle, &out) != 0 { throw lastFastError() }
            if out.status != Status.host.rawValue { break }
            let number = out.host_call
            let value: UInt64?
            do {
                value = try handler.onHostCall(number: number, instance: self)
            } catch HostError.Abort(let reason) {
                throw PvmError.HostAborted(message: "host call \(number) aborted: \(reason)")
            } catch {
                // What UniFFI makes of any other error: the first line of its description.
                throw PvmError.HostAborted(message: "host call \(number) aborted: \(firstLine(String(describing: error)))")
            }
            if let value, pvm_uniffi_instance_set_reg(handle, Reg.a0.rawValue, value) != 0 { throw lastFastError() }
        }
        var regs = [UInt64](repeating: 0, count: Reg.allCases.count)
        if regs.withUnsafeMutableBufferPointer({ pvm_uniffi_instance_regs(handle, $0.baseAddress!) }) != 0 {
            throw lastFastError()
        }
        return RunOutcome(result: RunResult(out), regs: regs)
    }
}

extension RunResult {
    fileprivate init(_ out: PvmUniffiRunResult) {
        guard let status = Status(rawValue: out.status) else { fatalError("polkavm-ffi: unknown run status \(out.status)") }
        self.init(status: status, gasRemaining: out.gas_remaining, hostCall: out.host_call, faultAddress: out.fault_address)
    }
}

/// Stops the program with this thread's last fast-path failure, as the generated code does when a
/// call it expects to succeed fails. Out of line, as is `lastFastError`, so that the hot methods
/// stay small.
@inline(never)
private func crashOnFastError() -> Never {
    fatalError("polkavm-ffi: \(lastFastError())")
}

/// This thread's last fast-path failure as the PvmError that UniFFI would raise for it.
@inline(never)
private func lastFastError() -> PvmError {
    var length = 0
    let text = pvm_uniffi_error_text(&length)
    let message = String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self)
    // Numbered as the C ABI's PVM_ERROR_* (the core's ErrorKind).
    switch pvm_uniffi_error_kind() {
    case 1: return .InvalidArgument(message: message)
    case 2: return .InvalidProgram(message: message)
    case 3: return .Unsupported(message: message)
    case 4: return .Setup(message: message)
    case 5: return .Memory(message: message)
    case 6: return .WrongState(message: message)
    case 7: return .Panic(message: message)
    case 8: return .HostAborted(message: message)
    case let kind: fatalError("polkavm-ffi: unknown error kind \(kind): \(message)")
    }
}

/// The text up to the first line break, as Rust's `str::lines` gives it.
private func firstLine(_ text: String) -> String {
    String(text.prefix { $0 != "\n" && $0 != "\r\n" })
}
