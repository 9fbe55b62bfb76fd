// The error contract (tests/error_contract.json; format in docs/design.md, "Error contract") through
// the Swift bindings, face "swift": every case throws the PvmError case and message of the file.

import Foundation
import PolkaVM
import XCTest

struct ErrorCase: Decodable {
    let kind: String
    let message: String
    let onlyIn: [String]?
    enum CodingKeys: String, CodingKey { case kind, message, onlyIn = "only_in" }
}

struct ErrorContract: Decodable {
    let cases: [String: ErrorCase]
}

func interpreter(allowDynamicPaging: Bool = false) throws -> Engine {
    try Engine(config: EngineConfig(backend: .interpreter, allowDynamicPaging: allowDynamicPaging))
}

/// The case of a PvmError, as the file names kinds.
func kind(of error: PvmError) -> String {
    switch error {
    case .InvalidArgument: return "InvalidArgument"
    case .InvalidProgram: return "InvalidProgram"
    case .Unsupported: return "Unsupported"
    case .Setup: return "Setup"
    case .Memory: return "Memory"
    case .WrongState: return "WrongState"
    case .Panic: return "Panic"
    case .HostAborted: return "HostAborted"
    }
}

final class ErrorContractTests: XCTestCase {
    /// The face's code for each case of the file, by the case's name.
    let runners: [String: () throws -> Void] = [
        "run_without_call": { _ = try Instance(module: Module(engine: interpreter(), blob: testProgram)).run() },
        "bad_blob": { _ = try Module(engine: interpreter(), blob: Data("NOT A PROGRAM".utf8)) },
        "empty_blob": { _ = try Module(engine: interpreter(), blob: Data()) },
        "no_such_export": { _ = try Module(engine: interpreter(), blob: testProgram).exportPc(name: "missing") },
        "too_many_arguments": {
            try Instance(module: Module(engine: interpreter(), blob: testProgram)).prepareCallExport(name: "add", args: [UInt64](repeating: 0, count: 10))
        },
        "bad_page_size": { _ = try Module(engine: interpreter(), blob: testProgram, config: ModuleConfig(pageSize: 1000)) },
        "unmapped_memory": { _ = try Instance(module: Module(engine: interpreter(), blob: testProgram)).readMemory(address: 0, length: 4) },
        "dynamic_paging_not_allowed": { _ = try Module(engine: interpreter(), blob: testProgram, config: ModuleConfig(dynamicPaging: true)) },
        "heap_size_under_dynamic_paging": {
            _ = try Instance(module: Module(engine: interpreter(allowDynamicPaging: true), blob: testProgram, config: ModuleConfig(dynamicPaging: true))).heapSize()
        },
        "map_pages_without_dynamic_paging": {
            try Instance(module: Module(engine: interpreter(), blob: testProgram)).mapPages(address: 0x10000, length: 4096, writable: true)
        },
        "handler_failure": {
            let boom = Handler { _, _ in throw HostError.Abort(reason: "boom") }
            _ = try Instance(module: Module(engine: interpreter(), blob: testProgram)).call(name: "host", args: [1], handler: boom, gas: 10_000)
        },
    ]

    /// The cases of the file for this face: those without only_in, or whose only_in lists "swift".
    func cases() throws -> [String: ErrorCase] {
        let file = repositoryRoot.appendingPathComponent("tests/error_contract.json")
        let contract = try JSONDecoder().decode(ErrorContract.self, from: Data(contentsOf: file))
        return contract.cases.filter { $0.value.onlyIn?.contains("swift") ?? true }
    }

    func testTheFaceRunsEveryCaseOfTheFileAndNoOther() throws {
        XCTAssertEqual(try cases().keys.sorted(), runners.keys.sorted())
    }

    func testEachCaseThrowsTheKindAndMessageOfTheFile() throws {
        for (name, expected) in try cases().sorted(by: { $0.key < $1.key }) {
            guard let runner = runners[name] else { continue }  // the test above names it
            do {
                try runner()
                XCTFail("\(name): no error")
            } catch let error as PvmError {
                XCTAssertEqual(kind(of: error), expected.kind, name)
                XCTAssertEqual(message(of: error), expected.message, name)
            } catch {
                XCTFail("\(name): \(error) is not a PvmError")
            }
        }
    }
}
