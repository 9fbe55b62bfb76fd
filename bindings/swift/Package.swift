// swift-tools-version:5.9
// polkavm-ffi for Swift: the UniFFI-generated sources (Sources/, written by `make bindings` and
// checked by `make bindings-check`) over the installed libpolkavm_ffi, which SwiftPM finds with
// pkg-config (polkavm-ffi.pc, written by `make install`). No unsafeFlags: other packages can
// depend on this one by path or, from a git repository whose root is this folder, by version.
import PackageDescription

let package = Package(
    name: "PolkaVM",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "PolkaVM", targets: ["PolkaVM"]),
    ],
    targets: [
        // The C declarations of the library's UniFFI functions (PolkaVMFFI.h, module.modulemap);
        // pkg-config's polkavm-ffi gives the linker the library's folder.
        .systemLibrary(name: "PolkaVMFFI", path: "Sources/PolkaVMFFI", pkgConfig: "polkavm-ffi"),
        // The C declarations of the library's fast paths into an Instance (hand-written), which
        // Sources/PolkaVM/FastPath.swift calls.
        .systemLibrary(name: "PolkaVMFast", path: "Sources/PolkaVMFast"),
        .target(
            name: "PolkaVM",
            dependencies: ["PolkaVMFFI", "PolkaVMFast"],
            path: "Sources/PolkaVM",
            linkerSettings: [.linkedLibrary("polkavm_ffi")]
        ),
        .testTarget(name: "PolkaVMTests", dependencies: ["PolkaVM"], path: "Tests/PolkaVMTests"),
    ]
)
