// A Swift host for the sample program (examples/sample_program.pvmasm), on both backends.
//
// The guest sums the squares 1..n and reports each term through host call 1 ("report": a0 = i,
// a1 = running total); the host answers in a2 with a bonus to add (1 here). Run it with
// `make examples-swift`, or `host-function SAMPLE.pvmasm [n]`.

import Foundation
import PolkaVM

let report: UInt32 = 1

final class Host: HostHandler, @unchecked Sendable {
    var reports = 0

    func onHostCall(number: UInt32, instance: Instance) throws -> UInt64? {
        guard number == report else { throw HostError.Abort(reason: "unknown host call \(number)") }
        reports += 1
        instance.setReg(reg: .a2, value: 1)  // the bonus
        return nil  // leave A0 as it is
    }
}

let arguments = CommandLine.arguments
let blob = try assemble(source: String(contentsOfFile: arguments.count > 1 ? arguments[1] : "../../sample_program.pvmasm", encoding: .utf8))
let n = arguments.count > 2 ? UInt64(arguments[2])! : 10
for backend in [Backend.interpreter, .compiler] {
    let instance = try Instance(module: Module(engine: Engine(config: EngineConfig(backend: backend)), blob: blob))
    let host = Host()
    let outcome = try instance.call(name: "sum_of_squares", args: [n], handler: host, gas: 100_000)
    guard outcome.result.status == .halt else {
        FileHandle.standardError.write("the guest stopped with \(outcome.result.status)\n".data(using: .utf8)!)
        exit(1)
    }
    let total = outcome.regs[Int(Reg.a0.rawValue)]
    precondition(total == n * (n + 1) * (2 * n + 1) / 6 + n)
    print("[\(backend)] sum_of_squares(\(n)) = \(total) after \(host.reports) host calls, \(outcome.result.gasRemaining) gas left")
}
