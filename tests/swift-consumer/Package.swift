// swift-tools-version:5.9
// A package that depends on PolkaVM as a published package is depended on: by version, from a git
// repository (SwiftPM refuses unsafeFlags in such a dependency). run.sh makes that repository
// from bindings/swift and passes its URL in POLKAVM_SWIFT_URL; without it, the local path is used.
import PackageDescription

let polkaVM: Package.Dependency = Context.environment["POLKAVM_SWIFT_URL"].map { .package(url: $0, from: "0.1.0") }
    ?? .package(path: "../../bindings/swift")

let package = Package(
    name: "SwiftConsumer",
    dependencies: [polkaVM],
    targets: [
        // The package's identity is the last component of its URL or path: "swift" either way.
        .executableTarget(name: "swift-consumer", dependencies: [.product(name: "PolkaVM", package: "swift")]),
    ]
)
