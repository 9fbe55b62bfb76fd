// The usage the README's Swift section documents, as written there.

import Foundation
import PolkaVM
import XCTest

final class Host: HostHandler, @unchecked Sendable {
    func onHostCall(number: UInt32, instance: Instance) throws -> UInt64? {
        let a0 = instance.reg(reg: .a0)
        return a0 &* a0  // the new A0 (wrapping); nil leaves the registers alone
    }
}

final class DocumentedUsageTests: XCTestCase {
    func testTheReadmeExample() throws {
        let blob = try assemble(source: "%isa = jam_v1\npub @main:\n    ecalli 1\n    ret\n")
        let vm = try Instance(module: Module(engine: Engine(config: EngineConfig(backend: .interpreter)), blob: blob))
        let outcome = try vm.call(name: "main", args: [10], handler: Host(), gas: 1_000_000)
        XCTAssertEqual("\(outcome.result.status) \(outcome.regs[Int(Reg.a0.rawValue)])", "halt 100")
        XCTAssertEqual(try vm.call(name: "main", args: [1 << 32], handler: Host(), gas: 1_000_000).regs[Int(Reg.a0.rawValue)], 0, "wraps")
    }
}
