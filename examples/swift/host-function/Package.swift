// swift-tools-version:5.9
// The Swift example: a host for the sample program (examples/sample_program.pvmasm). It depends on
// the PolkaVM package of this repository by path; `make examples-swift` builds and runs it.
// (SwiftPM names a package after its folder: this one cannot be called "swift" like bindings/swift.)
import PackageDescription

let package = Package(
    name: "host-function",
    dependencies: [.package(path: "../../../bindings/swift")],
    targets: [
        .executableTarget(name: "host-function", dependencies: [.product(name: "PolkaVM", package: "swift")], path: ".",
                          sources: ["main.swift"]),
    ]
)
