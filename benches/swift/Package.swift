// swift-tools-version:5.9
// The Swift benchmark runner, driven by `make bench` (benches/overhead/external.rs) through run.sh.
import PackageDescription

let package = Package(
    name: "PolkaVMBench",
    dependencies: [.package(path: "../../bindings/swift")],
    targets: [
        .executableTarget(name: "pvm-bench", dependencies: [.product(name: "PolkaVM", package: "swift")]),
    ]
)
