import Crypto
import FederationProtocol
import Foundation
import Paillier
import Primitives
import X509

/// What a member signs with: the P-256 key of its federation certificate. Every statement it
/// signs carries the certificate (DER), so that any other member can check it against the
/// federation's CA without a directory of certificates.
public struct MemberSigner: Sendable {
    public let role: FederationRole
    /// The member's certificate, DER-encoded, as it travels next to each signature.
    public let certificate: [UInt8]
    /// The key's raw scalar (swift-crypto's key type is not `Sendable`); rebuilt for each signature.
    private let keyBytes: Data

    public init(role: FederationRole, key: P256.Signing.PrivateKey, certificate: Certificate) throws {
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw FederationError.configuration("\(role): the signing key does not belong to its certificate")
        }
        self.role = role
        self.keyBytes = key.rawRepresentation
        self.certificate = try FederationCertificates.derBytes(certificate)
    }

    /// A party's signer.
    public init(party: Int, key: P256.Signing.PrivateKey, certificate: Certificate) throws {
        try self.init(role: .party(party), key: key, certificate: certificate)
    }

    /// The party this signer speaks for (0 for another role).
    public var party: Int {
        if case .party(let id) = role { return id }
        return 0
    }

    /// An ECDSA P-256 signature (raw r ‖ s, 64 bytes) over SHA-256 of `statement`.
    public func sign(_ statement: SignedStatement) throws -> [UInt8] {
        let key = try P256.Signing.PrivateKey(rawRepresentation: keyBytes)
        return Array(try key.signature(for: statement.bytes).rawRepresentation)
    }
}

/// A party's signer (``MemberSigner`` with the role `.party`).
public typealias PartySigner = MemberSigner

/// Checks what other members signed: the certificate must be issued by this federation's CA,
/// be valid now, and certify exactly the party the statement is about.
public struct PeerVerifier: Sendable {
    public let authority: Certificate
    private let now: @Sendable () -> Date

    public init(authority: Certificate, now: @escaping @Sendable () -> Date = { Date() }) {
        self.authority = authority
        self.now = now
    }

    /// - Throws: ``SignatureProblem`` saying what is wrong.
    public func verify(_ signature: [UInt8], over statement: SignedStatement, by party: Int, certificate der: [UInt8]) throws {
        try verify(signature, over: statement, by: .party(party), certificate: der)
    }

    /// Checks a signature by the member `role` (a party or an analyst).
    /// - Throws: ``SignatureProblem`` saying what is wrong.
    public func verify(_ signature: [UInt8], over statement: SignedStatement, by role: FederationRole, certificate der: [UInt8]) throws {
        guard !signature.isEmpty, !der.isEmpty else { throw SignatureProblem.unsigned }
        guard der.count <= 16_384, let certificate = try? Certificate(derEncoded: der) else {
            throw SignatureProblem.certificate("not a DER certificate")
        }
        do {
            try FederationCertificates.checkIssued(certificate, by: authority, at: now(), source: "certificate")
            let certified = try FederationCertificates.role(of: certificate)
            guard certified == role else { throw SignatureProblem.certificate("certifies \(certified), not \(role)") }
        } catch let error as FederationError {
            guard case .certificate(_, let problem) = error else { throw SignatureProblem.certificate("\(error)") }
            throw SignatureProblem.certificate(problem)
        }
        guard let key = P256.Signing.PublicKey(certificate.publicKey),
            let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
            key.isValidSignature(parsed, for: statement.bytes)
        else { throw SignatureProblem.invalid }
    }

    /// Why a signature was not accepted.
    public enum SignatureProblem: Error, Sendable, Equatable, CustomStringConvertible {
        case unsigned
        case certificate(String)
        case invalid

        public var description: String {
            switch self {
            case .unsigned: return "carries no signature or no certificate"
            case .certificate(let problem): return "its certificate is refused: \(problem)"
            case .invalid: return "its signature does not verify"
            }
        }
    }
}

/// The byte strings parties sign, each behind its own domain tag so that a signature made for
/// one purpose can never be presented for another.
public struct SignedStatement: Sendable, Hashable {
    public let bytes: [UInt8]

    /// A Paillier contribution: the party's ciphertexts for one round of one federation.
    /// `ciphertextDigest` is ``contributionDigest(_:key:)`` of the ciphertexts.
    public static func contribution(
        manifestHash: [UInt8], round: UInt64, party: Int, keyID: [UInt8],
        ciphertextCount: Int, ciphertextDigest: [UInt8]
    ) -> SignedStatement {
        var writer = Writer("fedshare/v3/contribution")
        writer.bytes(manifestHash)
        writer.integer(round)
        writer.integer(UInt64(party))
        writer.bytes(keyID)
        writer.integer(UInt64(ciphertextCount))
        writer.bytes(ciphertextDigest)
        return SignedStatement(bytes: writer.output)
    }

    /// A secure-aggregation transcript (`SecAggAuthenticator` hands it over), bound to one
    /// federation and one signer.
    public static func secureAggregation(manifestHash: [UInt8], party: Int, transcript: [UInt8]) -> SignedStatement {
        var writer = Writer("fedshare/v3/secagg")
        writer.bytes(manifestHash)
        writer.integer(UInt64(party))
        writer.bytes(transcript)
        return SignedStatement(bytes: writer.output)
    }

    /// A world's public catalog as `party` publishes it to the federation directory:
    /// `entriesDigest` is SHA-256 of the canonical export's bytes, `version` strictly increases
    /// per party (so a recorded publication cannot be replayed over a newer one).
    public static func catalogPublication(manifestHash: [UInt8], party: Int, version: UInt64, entriesDigest: [UInt8]) -> SignedStatement {
        var writer = Writer("fedshare/v1/catalog-publication")
        writer.bytes(manifestHash)
        writer.integer(UInt64(party))
        writer.integer(version)
        writer.bytes(entriesDigest)
        return SignedStatement(bytes: writer.output)
    }

    /// A query of the federation directory by `party`, signed at `issuedAt` (microseconds since
    /// 1970); `queryDigest` is SHA-256 of the serialized query.
    public static func catalogQuery(manifestHash: [UInt8], party: Int, issuedAt: UInt64, queryDigest: [UInt8]) -> SignedStatement {
        var writer = Writer("fedshare/v1/catalog-query")
        writer.bytes(manifestHash)
        writer.integer(UInt64(party))
        writer.integer(issuedAt)
        writer.bytes(queryDigest)
        return SignedStatement(bytes: writer.output)
    }

    /// An analyst's request for one round: `requestDigest` is SHA-256 of the serialized
    /// `RoundRequest` (which names the federation, the analyst, the time and the scope).
    public static func roundRequest(requestDigest: [UInt8]) -> SignedStatement {
        var writer = Writer("fedshare/v1/round-request")
        writer.bytes(requestDigest)
        return SignedStatement(bytes: writer.output)
    }

    /// The contribution statement for `party`'s `ciphertexts` under the threshold key `key`.
    public static func contribution(
        manifestHash: [UInt8], round: UInt64, party: Int, ciphertexts: [PaillierCiphertext],
        key: ThresholdPublicKey
    ) -> SignedStatement {
        contribution(
            manifestHash: manifestHash, round: round, party: party, keyID: key.keyID, ciphertextCount: ciphertexts.count,
            ciphertextDigest: contributionDigest(ciphertexts, key: key.paillierKey))
    }

    /// SHA-256 over the batch's `CiphertextBatchCodec` encoding (fixed-width big-endian
    /// ciphertexts, in order): independent of how the batch was chunked on the wire.
    public static func contributionDigest(_ ciphertexts: [PaillierCiphertext], key: PaillierPublicKey) -> [UInt8] {
        SHA256.hash(CiphertextBatchCodec.encode(ciphertexts, key: key))
    }

    /// Length-prefixed fields after a tag: no two field lists share an encoding.
    private struct Writer {
        var output: [UInt8] = []
        init(_ tag: String) { bytes(Array(tag.utf8)) }
        mutating func integer(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { output += $0 } }
        mutating func bytes(_ value: [UInt8]) {
            integer(UInt64(value.count))
            output += value
        }
    }
}

/// A party's signing key and its way of checking the other members' signatures.
public struct PartyCredentials: Sendable {
    public let signer: PartySigner
    public let verifier: PeerVerifier

    public init(signer: PartySigner, verifier: PeerVerifier) {
        self.signer = signer
        self.verifier = verifier
    }
}
