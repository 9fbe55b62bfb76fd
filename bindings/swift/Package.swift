// swift-tools-version:5.9
// polkavm-ffi for Swift: the UniFFI-generated sources (Sources/, committed and checked for drift
// by `make test-swift`) over libpolkavm_ffi. Build the library first (`make build` at the
// repository root), or point POLKAVM_FFI_LIB_DIR at the directory holding it.
import PackageDescription

let libraryDirectory = Context.environment["POLKAVM_FFI_LIB_DIR"]
    ?? Context.packageDirectory + "/../../target/release"

let package = Package(
    name: "PolkaVM",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "PolkaVM", targets: ["PolkaVM"]),
    ],
    targets: [
        // The C declarations of the library's UniFFI functions (PolkaVMFFI.h, module.modulemap).
        .systemLibrary(name: "PolkaVMFFI", path: "Sources/PolkaVMFFI"),
        .target(
            name: "PolkaVM",
            dependencies: ["PolkaVMFFI"],
            path: "Sources/PolkaVM",
            linkerSettings: [
                .linkedLibrary("polkavm_ffi"),
                .unsafeFlags(["-L", libraryDirectory, "-Xlinker", "-rpath", "-Xlinker", libraryDirectory]),
            ]
        ),
        .testTarget(name: "PolkaVMTests", dependencies: ["PolkaVM"], path: "Tests/PolkaVMTests"),
    ]
)
