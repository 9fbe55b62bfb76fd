// swift-tools-version:5.9
// The Swift benchmark runner, driven by `make bench` (benches/overhead/external.rs) through
// benches/swift/run.sh; `make bench-swift` builds it.
import PackageDescription

let package = Package(
    name: "pvm-bench",
    dependencies: [.package(path: "../../../bindings/swift")],
    targets: [
        // The C ABI (polkavm_ffi.h), for the floor: the same loops calling pvm_* from Swift.
        .systemLibrary(name: "CPolkaVM", path: "CPolkaVM", pkgConfig: "polkavm-ffi"),
        .executableTarget(name: "pvm-bench", dependencies: [.product(name: "PolkaVM", package: "swift"), "CPolkaVM"],
                          path: ".", exclude: ["CPolkaVM"], sources: ["main.swift"]),
    ]
)
