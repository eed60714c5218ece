import Arithmetic
import Catalog
import Foundation
import SwiftProtobuf

/// An analyst's request for one round (the `RoundRequest` message): which federation, who asks,
/// when, and which records the round covers. It travels signed, as the bytes ``serialized()``
/// returns, so that every party checks what the analyst asked rather than what the aggregator says.
public struct RoundRequest: Sendable, Equatable {
    public var manifestHash: [UInt8]
    public var analyst: String
    /// Microseconds since 1970 when it was signed.
    public var issuedAt: UInt64
    /// 16 random bytes: the request's identity.
    public var nonce: [UInt8]
    /// The records covered: those about catalog entries matching this query (its limit
    /// ignored: every match counts); `nil`: every record.
    public var scope: CatalogQuery?

    public init(manifestHash: [UInt8], analyst: String, issuedAt: UInt64, nonce: [UInt8], scope: CatalogQuery?) {
        self.manifestHash = manifestHash
        self.analyst = analyst
        self.issuedAt = issuedAt
        self.nonce = nonce
        self.scope = scope
    }

    /// The request's identity as text (hex of the nonce).
    public var id: String { Base16.encode(nonce) }

    /// The deterministic protobuf encoding that is signed.
    public func serialized() throws -> [UInt8] {
        var message = Fedshare_V1_RoundRequest()
        message.manifestHash = Data(manifestHash)
        message.analyst = analyst
        message.issuedAt = issuedAt
        message.nonce = Data(nonce)
        if let scope {
            var wire = Fedshare_V1_CatalogQuery(scope)
            wire.limit = 0
            message.scope = wire
        }
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try message.serializedBytes(options: options)
    }

    /// Decodes a signed request's bytes.
    /// - Throws: ``ProtocolError/malformed(message:field:reason:)``.
    public init(serialized bytes: [UInt8]) throws {
        let message: Fedshare_V1_RoundRequest
        do { message = try Fedshare_V1_RoundRequest(serializedBytes: bytes) } catch {
            throw ProtocolError.malformed(message: "RoundRequest", field: "request", reason: "cannot be decoded (\(error))")
        }
        guard message.nonce.count == 16 else {
            throw ProtocolError.malformed(message: "RoundRequest", field: "nonce", reason: "expected 16 bytes, found \(message.nonce.count)")
        }
        var scope: CatalogQuery?
        if message.hasScope {
            scope = try message.scope.query()
            scope?.limit = 0
        }
        self.init(
            manifestHash: Array(message.manifestHash), analyst: message.analyst, issuedAt: message.issuedAt,
            nonce: Array(message.nonce), scope: scope)
    }
}
