import Catalog
import FederationProtocol
import Foundation
import Primitives
import Synchronization

extension RoundRequest {
    /// How far a request's signing time may be from a checker's clock (either way).
    public static let freshness: TimeInterval = 3600

    /// A request of `analyst` for `manifestHash`, issued now with a fresh random nonce.
    public static func new(manifestHash: [UInt8], analyst: String, scope: CatalogQuery?) -> RoundRequest {
        RoundRequest(
            manifestHash: manifestHash, analyst: analyst, issuedAt: UInt64(Date().timeIntervalSince1970 * 1_000_000),
            nonce: SecureRandom.bytes(16), scope: scope)
    }

    /// The request as it travels: its bytes, the analyst's certificate and signature.
    public func signed(by signer: MemberSigner) throws -> Wire.SignedRoundRequest {
        guard case .analyst(let name) = signer.role, name == analyst else {
            throw FederationError.requestRefused("a request for analyst \(analyst) must be signed with that analyst's key, not \(signer.role)'s")
        }
        var signed = Wire.SignedRoundRequest()
        signed.request = try serialized()
        signed.certificate = signer.certificate
        signed.signature = try signer.sign(.roundRequest(requestDigest: SHA256.hash(signed.request)))
        return signed
    }

    /// Decodes and checks a signed request: it names this federation (`manifestHash`), its
    /// signature verifies under a certificate from the federation's CA that certifies exactly
    /// the analyst it names, and it was signed within ``freshness`` of `now`.
    /// - Throws: ``FederationError/requestRefused(_:)`` saying what is wrong.
    public static func verified(
        _ signed: Wire.SignedRoundRequest, verifier: PeerVerifier, manifestHash: [UInt8], now: Date = Date()
    ) throws -> RoundRequest {
        let request: RoundRequest
        do { request = try RoundRequest(serialized: signed.request) } catch {
            throw FederationError.requestRefused("the request is malformed: \(error)")
        }
        guard request.manifestHash == manifestHash else {
            throw FederationError.requestRefused("the request is for another federation's manifest (\(hex(request.manifestHash)))")
        }
        do {
            try verifier.verify(
                signed.signature, over: .roundRequest(requestDigest: SHA256.hash(signed.request)), by: .analyst(request.analyst),
                certificate: signed.certificate)
        } catch {
            throw FederationError.requestRefused("the request of analyst \(request.analyst) is refused: \(error)")
        }
        let age = now.timeIntervalSince1970 - Double(request.issuedAt) / 1_000_000
        guard abs(age) <= freshness else {
            throw FederationError.requestRefused(
                "the request of analyst \(request.analyst) was signed \(Int(age)) s from this clock (at most \(Int(freshness)) s either way)")
        }
        return request
    }
}

/// The requests a party has answered, shared by the rounds of one long-running party: a
/// request is answered at most once (an aggregator replaying it is refused).
public final class AnsweredRequests: Sendable {
    private let nonces = Mutex(Set<[UInt8]>())

    public init() {}

    /// Records `nonce`; false when it was recorded before.
    public func remember(_ nonce: [UInt8]) -> Bool {
        nonces.withLock { $0.insert(nonce).inserted }
    }
}
