// swift-tools-version:6.1
//
// Osprey — a vector database that speaks Milvus's client protocol.
//
// Layers (imports point down only; see docs/design.md):
//   osprey (executable) → OspreyServer → Osprey → OspreyQuery, OspreyStorage, OspreyIndex
//   → OspreyCore → COspreyKernels
//
// Setting OSPREY_CORE_ONLY=1 in the environment leaves out the gRPC server and its
// dependencies, so that work on the engine layers builds in seconds instead of minutes.
// The README's test command always builds everything.
import PackageDescription
import Foundation

let coreOnly = ProcessInfo.processInfo.environment["OSPREY_CORE_ONLY"] == "1"

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

var dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
]

var targets: [Target] = [
    .target(name: "COspreyKernels"),
    .target(
        name: "OspreyCore",
        dependencies: ["COspreyKernels"],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "OspreyIndex",
        dependencies: [
            "OspreyCore", "COspreyKernels",
            .product(name: "HeapModule", package: "swift-collections"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "OspreyStorage",
        dependencies: ["OspreyCore"],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "OspreyQuery",
        dependencies: ["OspreyCore"],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "Osprey",
        dependencies: [
            "OspreyCore", "OspreyIndex", "OspreyStorage", "OspreyQuery",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "OspreyTestSupport",
        dependencies: ["OspreyCore", "COspreyKernels"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "OspreyCoreTests",
        dependencies: ["OspreyCore", "OspreyTestSupport"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "OspreyIndexTests",
        dependencies: ["OspreyIndex", "OspreyCore", "COspreyKernels", "OspreyTestSupport"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "OspreyStorageTests",
        dependencies: ["OspreyStorage", "OspreyCore", "OspreyTestSupport"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "OspreyQueryTests",
        dependencies: ["OspreyQuery", "OspreyCore", "OspreyTestSupport"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "OspreyTests",
        dependencies: ["Osprey", "OspreyCore", "OspreyTestSupport"],
        swiftSettings: swiftSettings
    ),
]

var ospreyExecutableDependencies: [Target.Dependency] = [
    "Osprey", "OspreyIndex", "OspreyCore",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "Logging", package: "swift-log"),
]
var executableSettings = swiftSettings

if !coreOnly {
    dependencies += [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ]
    targets += [
        .target(
            name: "OspreyServer",
            dependencies: [
                "Osprey", "OspreyCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OspreyServerTests",
            dependencies: [
                "OspreyServer", "Osprey", "OspreyCore", "OspreyTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
    ospreyExecutableDependencies.append("OspreyServer")
    executableSettings.append(.define("OSPREY_WITH_SERVER"))
}

targets.append(
    .executableTarget(
        name: "osprey",
        dependencies: ospreyExecutableDependencies,
        swiftSettings: executableSettings
    )
)

let package = Package(
    name: "Osprey",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Osprey", targets: ["Osprey"]),
        .executable(name: "osprey", targets: ["osprey"]),
    ],
    dependencies: dependencies,
    targets: targets
)
