import Foundation
import SwiftProtobuf

/// The constants every peer of protocol version 3 agrees on (Protocols/PROTOCOL.md §1).
public enum WireProtocol {
    /// The protocol version carried in every envelope: 3 since contributions and secure-aggregation
    /// keys are signed with the federation certificates, contributions are relayed so that every
    /// party can recompute the sum it decrypts, and secure aggregation has a consistency check
    /// (Protocols/PROTOCOL.md §2).
    public static let version: UInt32 = 3
    /// No gRPC message may exceed this many bytes (both directions).
    public static let maximumMessageBytes = 4 << 20
    /// Bulk payload per chunk message (ciphertext bytes, words, partial decryptions, values).
    public static let maximumChunkPayload = 1 << 20
    /// The most chunks one bulk payload may announce.
    public static let maximumChunks = 1 << 14
    /// The most parties a round may invite.
    public static let maximumParties = 1000
    /// The most fixed-point values one contribution may hold (G·M + G).
    public static let maximumValues = 1 << 26
    /// Manifest hashes are SHA-256 digests.
    public static let manifestHashBytes = 32
}

/// What went wrong reading a message from the wire. Each case names the message and field.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field is missing, out of range or inconsistent.
    case malformed(message: String, field: String, reason: String)
    /// A size limit was exceeded (checked before allocating).
    case tooLarge(message: String, field: String, size: Int, limit: Int)
    /// A chunk arrived out of order, twice, or with a changed total.
    case chunkOutOfOrder(message: String, expected: Int, found: Int)
    /// An envelope of another protocol version.
    case unsupportedVersion(found: UInt32, supported: UInt32)

    public var description: String {
        switch self {
        case .malformed(let message, let field, let reason):
            return "\(message).\(field): \(reason)"
        case .tooLarge(let message, let field, let size, let limit):
            return "\(message).\(field): \(size) exceeds the limit of \(limit)"
        case .chunkOutOfOrder(let message, let expected, let found):
            return "\(message): expected chunk \(expected), received chunk \(found)"
        case .unsupportedVersion(let found, let supported):
            return "protocol version \(found) is not supported (this build speaks version \(supported))"
        }
    }
}

/// Serialized size check before parsing: refuses bytes larger than the message limit.
public func checkedSize(_ bytes: Int, message: String) throws {
    guard bytes <= WireProtocol.maximumMessageBytes else {
        throw ProtocolError.tooLarge(message: message, field: "(serialized)", size: bytes, limit: WireProtocol.maximumMessageBytes)
    }
}

/// Reassembles a chunked payload: chunks must arrive in order 0, 1, …, total − 1 with the
/// same total, and the total must stay below ``WireProtocol/maximumChunks``.
public struct ChunkAssembler<Part: Sendable>: Sendable {
    public let message: String
    public private(set) var total: Int?
    public private(set) var parts: [Part] = []

    public init(message: String) { self.message = message }

    /// True once every chunk has arrived.
    public var isComplete: Bool { total.map { parts.count == $0 } ?? false }

    /// Accepts the next chunk.
    public mutating func append(_ chunk: Wire.Chunk, _ part: Part) throws {
        let announced = Int(chunk.total)
        guard announced >= 1, announced <= WireProtocol.maximumChunks else {
            throw ProtocolError.malformed(message: message, field: "chunk.total", reason: "must be in 1...\(WireProtocol.maximumChunks), found \(announced)")
        }
        if let total, total != announced {
            throw ProtocolError.malformed(message: message, field: "chunk.total", reason: "changed from \(total) to \(announced)")
        }
        guard Int(chunk.index) == parts.count, parts.count < announced else {
            throw ProtocolError.chunkOutOfOrder(message: message, expected: parts.count, found: Int(chunk.index))
        }
        total = announced
        parts.append(part)
    }
}

/// Splits `count` items of `itemBytes` each into runs that fit ``WireProtocol/maximumChunkPayload``.
public func chunkRanges(count: Int, itemBytes: Int) -> [Range<Int>] {
    let perChunk = max(1, WireProtocol.maximumChunkPayload / max(1, itemBytes))
    guard count > 0 else { return [0..<0] }
    return stride(from: 0, to: count, by: perChunk).map { $0..<min($0 + perChunk, count) }
}

extension Wire.Chunk {
    public init(index: Int, total: Int) {
        self.init()
        self.index = UInt32(index)
        self.total = UInt32(total)
    }
}
