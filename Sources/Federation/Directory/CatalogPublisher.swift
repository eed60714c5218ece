import Catalog
import FederationProtocol
import Foundation
import Primitives

/// A party's signed catalog messages: the publication of its world's entries, and queries of
/// the federation directory. Both are signed with the key of its federation certificate, so the
/// aggregator can neither forge a world's entries nor accept a query from anyone but a party.
public struct CatalogPublisher: Sendable {
    public let signer: PartySigner
    public let manifestHash: [UInt8]

    public init(signer: PartySigner, manifestHash: [UInt8]) {
        self.signer = signer
        self.manifestHash = manifestHash
    }

    /// A party kit's publisher.
    public init(kit: FederationKit) throws {
        self.init(signer: try kit.partyCredentials().signer, manifestHash: kit.manifest.digest)
    }

    /// The current time in microseconds since 1970: a version that only grows on one machine.
    public static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000_000) }

    /// The publication of `entries` (a canonical export, `Catalog.export`) as `version`.
    public func publication(entries: Data, version: UInt64 = CatalogPublisher.now()) throws -> Fedshare_V1_PublishCatalogRequest {
        let digest = SHA256.hash(Array(entries))
        let statement = SignedStatement.catalogPublication(
            manifestHash: manifestHash, party: signer.party, version: version,
            entriesDigest: digest)
        var request = Fedshare_V1_PublishCatalogRequest()
        request.manifestHash = Data(manifestHash)
        request.version = version
        request.entries = entries
        request.entriesSha256 = Data(digest)
        request.signer = try signature(statement)
        return request
    }

    /// The signed request for `query`.
    public func query(_ query: CatalogQuery, issuedAt: UInt64 = CatalogPublisher.now()) throws -> Fedshare_V1_QueryCatalogRequest {
        let bytes: Data = try Fedshare_V1_CatalogQuery(query).serializedData()
        let statement = SignedStatement.catalogQuery(
            manifestHash: manifestHash, party: signer.party, issuedAt: issuedAt,
            queryDigest: SHA256.hash(Array(bytes)))
        var request = Fedshare_V1_QueryCatalogRequest()
        request.manifestHash = Data(manifestHash)
        request.issuedAt = issuedAt
        request.query = bytes
        request.signer = try signature(statement)
        return request
    }

    private func signature(_ statement: SignedStatement) throws -> Fedshare_V1_PartySignature {
        var signature = Fedshare_V1_PartySignature()
        signature.partyID = UInt32(signer.party)
        signature.certificate = Data(signer.certificate)
        signature.signature = Data(try signer.sign(statement))
        return signature
    }
}

extension CatalogPublisher {
    /// Publishes the local world of `catalog` (the entries `selection` matches, or all of them)
    /// to the aggregator over `connection`, signed, as a new version.
    /// - Returns: the aggregator's receipt (the world it filed the entries under, and how many).
    /// - Throws: `CatalogError` reading the catalog; ``FederationError`` (`.refused` with the
    ///   directory's reason when it refuses the publication).
    public func publish(
        _ catalog: Catalog, matching selection: CatalogQuery? = nil,
        over connection: PartyConnection
    ) async throws -> Fedshare_V1_PublishCatalogReply {
        let request = try publication(entries: try catalog.export(world: Catalog.localWorld, matching: selection))
        return try await connection.publishCatalog(request)
    }

    /// Asks the aggregator's federation directory `query` over `connection`.
    /// - Throws: ``FederationError``; `ProtocolError` for an answer that is not a list of entries.
    public func ask(_ query: CatalogQuery, over connection: PartyConnection) async throws -> [CatalogMatch] {
        try await connection.queryCatalog(try self.query(query)).matches.map { try $0.match() }
    }
}
