// swift-tools-version:6.0
// fedshare: federated, privacy-preserving attention statistics.
// Module order (arrows point down): C system libraries → Arithmetic → Primitives →
// Paillier, SecureAggregation, DifferentialPrivacy, Attention, Catalog → Manifest →
// FederationProtocol → Federation → fedshare.
import PackageDescription

// Fuzzing (scripts/fuzz.sh): with FEDSHARE_FUZZ=1 our own modules get libFuzzer coverage and
// AddressSanitizer instrumentation (dependencies stay uninstrumented) and the `fedshare-fuzz`
// executable is declared. Build it in its own scratch path (.build-fuzz); plain builds are unaffected.
let fuzzing = Context.environment["FEDSHARE_FUZZ"] == "1"
let fuzzInstrumentation: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address"])] : []
let fuzzTargets: [Target] =
    !fuzzing
    ? []
    : [
        .target(name: "CFuzzerDriver", path: "Tests/Fuzz/CFuzzerDriver"),
        .executableTarget(
            name: "fedshare-fuzz",
            dependencies: [
                "CFuzzerDriver", "Arithmetic", "Paillier", "Attention", "Catalog", "Manifest", "DifferentialPrivacy", "SecureAggregation", "FederationProtocol",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Tests/Fuzz/Harness",
            swiftSettings: fuzzInstrumentation,
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])]),
    ]

/// Settings of our own targets: nothing beyond the defaults, except the fuzzing instrumentation.
/// (Forcing `-cross-module-optimization` on release builds was dropped: a miscompile under it and
/// -O made `fedshare simulate` crash; scripts/sanitize-crypto.sh guards the optimised core.)
let ours: [SwiftSetting] = fuzzInstrumentation

let package = Package(
    name: "fedshare",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fedshare", targets: ["fedshare"]),
        .library(name: "Paillier", targets: ["Paillier"]),
        .library(name: "SecureAggregation", targets: ["SecureAggregation"]),
        .library(name: "DifferentialPrivacy", targets: ["DifferentialPrivacy"]),
        .library(name: "Attention", targets: ["Attention"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        // C system libraries.
        .systemLibrary(name: "CGMP", path: "Sources/CGMP", providers: [.apt(["libgmp-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),

        // Foundations.
        .target(name: "Arithmetic", dependencies: ["CGMP"], swiftSettings: ours),
        .target(name: "Primitives", dependencies: ["Arithmetic", "COpenSSL"], swiftSettings: ours),

        // Cryptography, privacy and local computation (no networking below this line).
        .target(name: "Paillier", dependencies: ["Arithmetic", "Primitives"], swiftSettings: ours),
        .target(name: "SecureAggregation", dependencies: ["Primitives"], swiftSettings: ours),
        .target(
            name: "DifferentialPrivacy",
            dependencies: ["Arithmetic", "Primitives", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: ours),
        .target(name: "Attention", dependencies: ["COpenBLAS", "Arithmetic", "Primitives"], swiftSettings: ours),
        // Each world's public metadata (venues, events, items): SQLite FTS5 and R*Tree indexes.
        .target(
            name: "Catalog",
            dependencies: ["CSQLite", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: ours),

        // The federation manifest (a TOML file): parsed and validated once, then handed out in
        // parts (the attention settings and model to Attention, privacy and crypto to the rounds).
        .target(name: "Manifest", dependencies: ["Arithmetic", "Primitives", "Attention", "TOMLKit"], swiftSettings: ours),

        // The wire: code generated from Protocols/*.proto (committed) and conversions.
        .target(
            name: "FederationProtocol",
            dependencies: [
                "Arithmetic", "Paillier", "SecureAggregation", "DifferentialPrivacy", "Catalog",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            swiftSettings: ours),

        // Manifest-driven federation: provisioning, round engine, aggregator, party, transport.
        .target(
            name: "Federation",
            dependencies: [
                "Arithmetic", "Primitives", "Paillier", "SecureAggregation", "DifferentialPrivacy", "Attention", "Catalog",
                "Manifest", "FederationProtocol",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: ours),

        // The command-line tool.
        .executableTarget(
            name: "fedshare",
            dependencies: [
                "Arithmetic", "Primitives", "Paillier", "SecureAggregation", "DifferentialPrivacy", "Attention",
                "Catalog", "Manifest", "FederationProtocol", "Federation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: ours),

        // Tests. The test-vector locator lives in _TestSupport. Every target declares exactly
        // what its files import (scripts/check-package-deps.py, run by CI).
        .target(name: "_TestSupport", path: "Tests/_TestSupport"),
        .testTarget(name: "ArithmeticTests", dependencies: ["Arithmetic", "Primitives"]),
        .testTarget(name: "PrimitivesTests", dependencies: ["Arithmetic", "COpenSSL", "Primitives", "_TestSupport"]),
        .testTarget(name: "PaillierTests", dependencies: ["Arithmetic", "Primitives", "Paillier", "_TestSupport"]),
        .testTarget(name: "SecureAggregationTests", dependencies: ["Arithmetic", "Primitives", "SecureAggregation", "_TestSupport"]),
        .testTarget(
            name: "DifferentialPrivacyTests",
            dependencies: ["Arithmetic", "Primitives", "DifferentialPrivacy", "_TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "AttentionTests", dependencies: ["Primitives", "Attention", "Manifest", "_TestSupport"]),
        .testTarget(name: "ManifestTests", dependencies: ["Attention", "Manifest", "_TestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Primitives", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "FederationTests",
            dependencies: [
                "Arithmetic", "Primitives", "Paillier", "SecureAggregation", "DifferentialPrivacy", "Attention", "Catalog",
                "Manifest", "FederationProtocol", "Federation",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Separate fedshare processes (provision, aggregator, parties, simulate) on 127.0.0.1.
        .testTarget(
            name: "EndToEndTests", dependencies: ["Federation", "FederationProtocol", "DifferentialPrivacy", "Catalog", "Manifest", "Primitives"]),
    ] + fuzzTargets,
    swiftLanguageModes: [.v6]
)
