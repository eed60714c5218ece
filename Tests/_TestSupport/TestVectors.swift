import Foundation

/// Locates the known-answer vectors kept under `Tests/TestVectors/`.
public enum TestVectors {
    /// The `Tests/TestVectors` folder of this checkout.
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // _TestSupport
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("TestVectors", isDirectory: true)

    /// The contents of `Tests/TestVectors/<name>`.
    public static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// A JSON vector file decoded as `T`.
    public static func load<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: data(name))
    }
}

/// Hex helpers for vectors.
public enum Hex {
    public static func decode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = text.filter { !$0.isWhitespace }.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(UInt8(String([high, low]), radix: 16)!)
        }
        return bytes
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
