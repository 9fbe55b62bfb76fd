// Assembles a small program and runs it through the PolkaVM package on both backends.

import Foundation
import PolkaVM

let source = """
    %isa = jam_v1
    %stack_size = 4096
    pub @triple:
        a1 = a0 + a0
        a0 = a0 + a1
        ret
    """

let blob = try assemble(source: source)
for backend in [Backend.interpreter, .compiler] {
    let vm = try Instance(module: Module(engine: Engine(config: EngineConfig(backend: backend)), blob: blob))
    try vm.prepareCallExport(name: "triple", args: [14])
    vm.setGas(gas: 100)
    let result = try vm.run()
    guard result.status == .halt, vm.reg(reg: .a0) == 42 else {
        FileHandle.standardError.write("swift-consumer: [\(backend)] triple(14) gave \(result.status), a0 = \(vm.reg(reg: .a0))\n".data(using: .utf8)!)
        exit(1)
    }
    print("swift-consumer: [\(backend)] triple(14) = 42 with \(version())")
}
