import Foundation

// Fixtures for the attention and manifest tests: scratch folders and a minimal federation.

/// A fresh temporary folder, removed when the value is released.
public final class TemporaryFolder {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-attention-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file
    }

    @discardableResult
    public func write(_ name: String, bytes: [UInt8]) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
}

/// The repository's Examples folder.
public let examplesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Examples", isDirectory: true)

/// A minimal, valid federation: anchors (2 × 2), groups a and b, features f1, f2.
public func writeBaseFederation(in folder: TemporaryFolder, manifest: String = baseManifest) throws -> URL {
    try folder.write("anchors.csv", "name,e1,e2\nup,1,0\ndown,0,1\n")
    return try folder.write("manifest.toml", manifest)
}

public let baseManifest = """
    [federation]
    name = "test"
    parties = [1, 2, 3]
    threshold = 2
    aggregator = "localhost:7443"

    [attention]
    anchors = "anchors.csv"
    groups = ["a", "b"]
    features = ["f1", "f2"]
    group_column = "group"

    [privacy]
    mechanism = "gaussian"
    epsilon = 1.0
    delta = 1e-6
    epsilon_budget = 10.0
    delta_budget = 1e-5

    [crypto]
    mode = "secagg"
    """

/// `Tests/Fuzz/Regressions`: inputs found by fuzzing (`scripts/fuzz.sh`), kept as test cases.
public let fuzzRegressionsDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz/Regressions", isDirectory: true)
