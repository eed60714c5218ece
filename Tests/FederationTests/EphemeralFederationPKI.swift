import Foundation

@testable import Federation

/// A throwaway federation CA with one certificate per party, for federations that live in
/// one process (``InMemoryFederation``, the engine tests and benchmarks): the same certificates and
/// signatures as provisioned kits, never written anywhere.
public struct EphemeralFederationPKI: Sendable {
    public let verifier: PeerVerifier
    public let signers: [Int: PartySigner]
    /// Each analyst's signer, by name.
    public let analysts: [String: MemberSigner]

    public init(federation: String, parties: [Int], analysts: [String] = ["alice"]) throws {
        let now = Date()
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(86_400)
        let authority = try FederationCertificates.makeAuthority(federation: federation, notBefore: notBefore, notAfter: notAfter)
        var signers: [Int: PartySigner] = [:]
        for party in parties {
            let issued = try FederationCertificates.issue(
                role: .party(party), federation: federation, authority: authority,
                notBefore: notBefore, notAfter: notAfter)
            signers[party] = try PartySigner(party: party, key: issued.privateKey(), certificate: issued.certificate)
        }
        var analystSigners: [String: MemberSigner] = [:]
        for name in analysts {
            let issued = try FederationCertificates.issue(
                role: .analyst(name), federation: federation, authority: authority, notBefore: notBefore, notAfter: notAfter)
            analystSigners[name] = try MemberSigner(role: .analyst(name), key: issued.privateKey(), certificate: issued.certificate)
        }
        self.verifier = PeerVerifier(authority: authority.certificate)
        self.signers = signers
        self.analysts = analystSigners
    }

    /// Party `party`'s credentials (it must be one of the parties given at creation).
    public func credentials(party: Int) throws -> PartyCredentials {
        guard let signer = signers[party] else { throw FederationError.configuration("party \(party) has no certificate in this federation") }
        return PartyCredentials(signer: signer, verifier: verifier)
    }
}
