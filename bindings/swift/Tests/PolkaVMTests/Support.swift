// What the test files share: the test program, engines, host handlers and error matching.

import Foundation
import PolkaVM
import XCTest

let fullGas: Int64 = 1_000_000
let backends: [Backend] = [.interpreter, .compiler]

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Tests/PolkaVMTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // bindings/swift
    .deletingLastPathComponent()  // bindings
    .deletingLastPathComponent()  // the repository

/// The program the C, C++, Python, Kotlin, Swift and Julia suites share, assembled from its text.
let testProgramSource = try! String(contentsOf: repositoryRoot.appendingPathComponent("tests/programs/test_program.pvmasm"), encoding: .utf8)
let testProgram: Data = try! assemble(source: testProgramSource)

/// Counts host calls; optionally puts a value in A0.
final class Recorder: HostHandler, @unchecked Sendable {
    var numbers: [UInt32] = []
    let a0: UInt64?

    init(a0: UInt64? = nil) {
        self.a0 = a0
    }

    func onHostCall(number: UInt32, instance: Instance) throws -> UInt64? {
        numbers.append(number)
        return a0
    }
}

/// Runs `body` as a host-call handler.
final class Handler: HostHandler, @unchecked Sendable {
    let body: (UInt32, Instance) throws -> UInt64?

    init(_ body: @escaping (UInt32, Instance) throws -> UInt64?) {
        self.body = body
    }

    func onHostCall(number: UInt32, instance: Instance) throws -> UInt64? {
        try body(number, instance)
    }
}

struct Boom: Error {}

func engine(_ backend: Backend) throws -> Engine {
    try Engine(config: EngineConfig(backend: backend))
}

func newInstance(_ backend: Backend, _ config: ModuleConfig = ModuleConfig()) throws -> Instance {
    try Instance(module: Module(engine: engine(backend), blob: testProgram, config: config))
}

/// The engines that run with dynamic paging here: the interpreter, and the JIT with polkavm's
/// generic sandbox (the Linux sandbox would need userfaultfd).
func pagingEngines() throws -> [Engine] {
    try [
        Engine(config: EngineConfig(backend: .interpreter, allowDynamicPaging: true)),
        Engine(config: EngineConfig(backend: .compiler, sandbox: .generic, allowDynamicPaging: true)),
    ]
}

extension Instance {
    /// Prepares a call of `export` and runs it until its first stop, the host serving nothing.
    func callRaw(_ export: String, _ args: [UInt64], gas: Int64 = fullGas) throws -> RunResult {
        try prepareCallExport(name: export, args: args)
        setGas(gas: gas)
        return try run()
    }
}

/// The message of the PvmError that `body` throws, checking its case with `isCase`.
func pvmError(_ body: () throws -> Void, _ isCase: (PvmError) -> Bool, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        try body()
        XCTFail("expected a PvmError", file: file, line: line)
    } catch let error as PvmError {
        XCTAssertTrue(isCase(error), "unexpected \(error)", file: file, line: line)
        return message(of: error)
    } catch {
        XCTFail("expected a PvmError, got \(error)", file: file, line: line)
    }
    return ""
}

func message(of error: PvmError) -> String {
    switch error {
    case let .InvalidArgument(message), let .InvalidProgram(message), let .Unsupported(message), let .Setup(message),
         let .Memory(message), let .WrongState(message), let .Panic(message), let .HostAborted(message):
        return message
    }
}

func isInvalidArgument(_ error: PvmError) -> Bool { if case .InvalidArgument = error { return true }; return false }
func isInvalidProgram(_ error: PvmError) -> Bool { if case .InvalidProgram = error { return true }; return false }
func isUnsupported(_ error: PvmError) -> Bool { if case .Unsupported = error { return true }; return false }
func isMemory(_ error: PvmError) -> Bool { if case .Memory = error { return true }; return false }
func isWrongState(_ error: PvmError) -> Bool { if case .WrongState = error { return true }; return false }
func isHostAborted(_ error: PvmError) -> Bool { if case .HostAborted = error { return true }; return false }
