import Foundation

/// One round's state as the aggregator records it (``RoundEffect/persist(_:)``; the
/// ``RoundStore`` keeps it in SQLite).
public struct RoundRecord: Sendable, Equatable, Codable {
    public var round: Int64
    public var mode: String
    public var phase: String
    public var released: Bool
    public var contributors: String
    public var dropped: String
    public var reason: String?
    public var reservation: Int64?
    public var updated: String

    /// Parties in the released sum.
    public var contributorIDs: [Int] { contributors.split(separator: ",").compactMap { Int($0) } }

    /// The time a record is updated (ISO 8601).
    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
