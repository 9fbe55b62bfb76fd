// swift-tools-version:5.9
// The Swift benchmark runner, driven by `make bench` (benches/overhead/external.rs) through
// benches/swift/run.sh; `make bench-swift` builds it.
import PackageDescription

let package = Package(
    name: "pvm-bench",
    dependencies: [.package(path: "../../../bindings/swift")],
    targets: [
        .executableTarget(name: "pvm-bench", dependencies: [.product(name: "PolkaVM", package: "swift")], path: ".",
                          sources: ["main.swift"]),
    ]
)
