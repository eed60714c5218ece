import Catalog
import FederationProtocol
import Foundation
import Logging
import Primitives
import SwiftProtobuf

/// The aggregator's federation directory: every party's published catalog, each entry filed
/// under its world (`party-N`), in one catalog file that answers queries with the same
/// `Catalog.search` as a local catalog.
///
/// A publication is accepted only when it is signed by the party whose certificate the
/// connection presented (chained to the federation CA), for this manifest, over exactly the
/// bytes received, with a version newer than the one held; then it replaces that world in one
/// transaction. Anything else is refused with one line naming the party, and the directory
/// keeps what it had. A query must likewise be signed by a member party, recently.
public final class FederationDirectory: Sendable {
    public let catalog: Catalog
    let manifest: FederationManifestIdentity
    let verifier: PeerVerifier
    let logger: Logger
    /// How far a query's signing time may lie from this clock.
    let querySkew: UInt64 = 300 * 1_000_000
    let now: @Sendable () -> Date

    /// What the directory needs of the manifest.
    struct FederationManifestIdentity: Sendable {
        var digest: [UInt8]
        var parties: [Int]
    }

    /// Opens (or creates) the directory file at `path` for the aggregator's `kit`.
    /// - Throws: `CatalogError.storage` when the file cannot be opened.
    public init(
        path: String, kit: FederationKit, logger: Logger = Logger(label: "fedshare.directory"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        catalog = try Catalog(path: path, access: .create)
        manifest = FederationManifestIdentity(digest: kit.manifest.digest, parties: kit.manifest.parties)
        verifier = PeerVerifier(authority: kit.authority, now: now)
        self.logger = logger
        self.now = now
    }

    /// The world a party's entries are filed under.
    public static func world(ofParty party: Int) -> String { "party-\(party)" }

    /// Verifies and files `request` from `party` (the party its connection's certificate names).
    /// - Returns: the world and the number of entries now held for it.
    /// - Throws: ``FederationError/catalogRefused(party:reason:)``; the directory is unchanged.
    public func publish(_ request: Fedshare_V1_PublishCatalogRequest, from party: Int) throws -> Fedshare_V1_PublishCatalogReply {
        do {
            try checkSigner(request.signer, party: party, manifestHash: request.manifestHash)
            let digest = SHA256.hash(Array(request.entries))
            guard request.entriesSha256.elementsEqual(digest) else {
                throw refusal("its entries do not match their signed SHA-256 digest (altered in transit?)")
            }
            let statement = SignedStatement.catalogPublication(
                manifestHash: manifest.digest, party: party, version: request.version, entriesDigest: digest)
            try verify(request.signer, statement, party: party)
            guard request.version >= 1, request.version <= UInt64(Int64.max) else { throw refusal("version \(request.version) is out of range") }
            let world = Self.world(ofParty: party)
            let entries = try EntryFile.parse(jsonLines: request.entries, file: "the catalog")
            try catalog.replaceWorld(world, with: entries, version: Int64(request.version))
            logger.info(
                "catalog published",
                metadata: [
                    "party": "\(party)", "world": "\(world)", "entries": "\(entries.count)",
                    "version": "\(request.version)",
                ])
            return .with {
                $0.world = world
                $0.entries = UInt32(clamping: entries.count)
            }
        } catch let error as FederationError {
            logger.warning("catalog refused", metadata: ["party": "\(party)", "reason": "\(error)"])
            throw error
        } catch let error as CatalogError {
            let refused = FederationError.catalogRefused(party: party, reason: error.description)
            logger.warning("catalog refused", metadata: ["party": "\(party)", "reason": "\(refused)"])
            throw refused
        }

        func refusal(_ reason: String) -> FederationError { .catalogRefused(party: party, reason: reason) }
    }

    /// Verifies `request` from `party` and answers it from every world.
    /// - Throws: ``FederationError/catalogQueryRefused(party:reason:)``.
    public func query(_ request: Fedshare_V1_QueryCatalogRequest, from party: Int) throws -> Fedshare_V1_QueryCatalogReply {
        do {
            try checkSigner(request.signer, party: party, manifestHash: request.manifestHash, query: true)
            let clock = UInt64(max(0, now().timeIntervalSince1970 * 1_000_000))
            guard max(clock, request.issuedAt) - min(clock, request.issuedAt) <= querySkew else {
                throw FederationError.catalogQueryRefused(
                    party: party, reason: "it was signed more than 5 minutes from the aggregator's clock (replayed, or a clock is wrong)")
            }
            let statement = SignedStatement.catalogQuery(
                manifestHash: manifest.digest, party: party, issuedAt: request.issuedAt,
                queryDigest: SHA256.hash(Array(request.query)))
            try verify(request.signer, statement, party: party, query: true)
            let query: CatalogQuery
            do { query = try Fedshare_V1_CatalogQuery(serializedBytes: request.query).query() } catch {
                throw FederationError.catalogQueryRefused(party: party, reason: "\(error)")
            }
            let matches = try catalog.search(query)
            logger.debug("catalog query answered", metadata: ["party": "\(party)", "matches": "\(matches.count)"])
            var reply = Fedshare_V1_QueryCatalogReply()
            reply.matches = try matches.map(Fedshare_V1_CatalogMatch.init)
            return reply
        } catch let error as FederationError {
            logger.warning("catalog query refused", metadata: ["party": "\(party)", "reason": "\(error)"])
            throw error
        } catch let error as CatalogError {
            throw FederationError.catalogQueryRefused(party: party, reason: error.description)
        }
    }

    /// The signature block names `party`, a member, for this manifest, and is present.
    private func checkSigner(_ signer: Fedshare_V1_PartySignature, party: Int, manifestHash: Data, query: Bool = false) throws {
        func refuse(_ reason: String) -> FederationError {
            query ? .catalogQueryRefused(party: party, reason: reason) : .catalogRefused(party: party, reason: reason)
        }
        guard manifest.parties.contains(party) else { throw refuse("party \(party) is not a member of this federation") }
        guard !signer.signature.isEmpty, !signer.certificate.isEmpty else {
            throw refuse("it is unsigned: it \(PeerVerifier.SignatureProblem.unsigned)")
        }
        guard signer.partyID == UInt32(party) else {
            throw refuse("it is signed as party \(signer.partyID), but its connection's certificate is party \(party)'s")
        }
        guard manifestHash.elementsEqual(manifest.digest) else { throw refuse("it is for another manifest (its hash differs)") }
    }

    private func verify(_ signer: Fedshare_V1_PartySignature, _ statement: SignedStatement, party: Int, query: Bool = false) throws {
        do {
            try verifier.verify(Array(signer.signature), over: statement, by: party, certificate: Array(signer.certificate))
        } catch let problem as PeerVerifier.SignatureProblem {
            let reason = "\(problem)"
            throw query ? FederationError.catalogQueryRefused(party: party, reason: reason) : .catalogRefused(party: party, reason: reason)
        }
    }
}
