import Crypto
import FederationProtocol
import Foundation
import Manifest
import SwiftASN1
import Testing
import X509

@testable import Federation

/// The `[analysts]` table of a ``WireFixture`` manifest.
let analystsSection = """
    [analysts]
    names = ["alice", "bob-2"]
    epsilon_cap = 2.0
    """

/// A client certificate with any common name and URI names, signed by `authority` (to forge
/// what ``FederationCertificates/issue(role:federation:hosts:authority:notBefore:notAfter:)`` refuses to make).
func certificate(commonName: String, uris: [String], authority: FederationCertificates.Issued) throws -> Certificate {
    let key = P256.Signing.PrivateKey()
    let subject = try DistinguishedName {
        OrganizationName("wire-test")
        CommonName(commonName)
    }
    let extensions = try Certificate.Extensions {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true))
        try ExtendedKeyUsage([.clientAuth])
        SubjectAlternativeNames(uris.map { .uniformResourceIdentifier($0) })
    }
    return try Certificate(
        version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
        notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3600),
        issuer: authority.certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
        extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(try authority.privateKey()))
}

@Suite("Analysts: role, certificates and kits")
struct AnalystTests {
    static func authority() throws -> FederationCertificates.Issued {
        try FederationCertificates.makeAuthority(federation: "wire-test", notBefore: Date().addingTimeInterval(-60), notAfter: Date().addingTimeInterval(3600))
    }

    @Test("an analyst's issued certificate names it in its common name and URI, and reads back as its role")
    func roleRoundTrip() throws {
        let authority = try Self.authority()
        let role = FederationRole.analyst("alice")
        #expect(role.name == "analyst-alice")
        #expect(role.description == "analyst alice")
        let issued = try FederationCertificates.issue(
            role: role, federation: "wire-test", authority: authority, notBefore: Date().addingTimeInterval(-60),
            notAfter: Date().addingTimeInterval(3600))
        let names = try #require(try issued.certificate.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.uniformResourceIdentifier("fedshare:analyst:alice")])
        #expect(FederationCertificates.analystURIPrefix == "fedshare:analyst:")
        #expect(try issued.certificate.extensions.extendedKeyUsage == ExtendedKeyUsage([.clientAuth]))
        #expect(try FederationCertificates.role(of: issued.certificate) == role)
        try FederationCertificates.checkIssued(issued.certificate, by: authority.certificate, at: Date(), source: "test")
        // The same through a forged-but-well-formed certificate, with digits, '_' and '-'.
        let longest = "0" + String(repeating: "a_-", count: 10) + "z"
        #expect(longest.count == 32)
        let forged = try certificate(commonName: "analyst-\(longest)", uris: ["fedshare:analyst:\(longest)"], authority: authority)
        #expect(try FederationCertificates.role(of: forged) == .analyst(longest))
    }

    @Test("an analyst certificate whose common name disagrees with its URI is refused")
    func commonNameMismatch() throws {
        let authority = try Self.authority()
        for (commonName, uri) in [
            ("analyst-bob", "fedshare:analyst:alice"), ("party-1", "fedshare:analyst:alice"), ("analyst-alice", "fedshare:party:1"),
        ] {
            let forged = try certificate(commonName: commonName, uris: [uri], authority: authority)
            let error = #expect(throws: FederationError.self) { try FederationCertificates.role(of: forged, source: "forged.pem") }
            #expect("\(error!)".contains("forged.pem") && "\(error!)".contains("common name does not match"), "\(error!)")
        }
        let both = try certificate(commonName: "analyst-alice", uris: ["fedshare:analyst:alice", "fedshare:party:1"], authority: authority)
        let error = #expect(throws: FederationError.self) { try FederationCertificates.role(of: both) }
        #expect("\(error!)".contains("names several identities (analyst-alice, party-1)"), "\(error!)")
    }

    static let malformedNames = ["", "Alice", "-alice", "_alice", "al ice", "al/ice", "al+ce", "a.b", String(repeating: "a", count: 33)]

    @Test("a malformed analyst name is refused in a certificate's URI, with the rule", arguments: malformedNames)
    func malformedCertificateName(name: String) throws {
        let authority = try Self.authority()
        let forged = try certificate(commonName: "analyst-\(name)", uris: ["fedshare:analyst:\(name)"], authority: authority)
        let error = #expect(throws: FederationError.self) { try FederationCertificates.role(of: forged, source: "forged.pem") }
        guard case .certificate(let path, let problem)? = error else {
            Issue.record("expected a certificate error, got \(String(describing: error))")
            return
        }
        #expect(path == "forged.pem")
        #expect(problem.contains("malformed analyst identity") && problem.contains("1 to 32 characters a-z, 0-9, '_' or '-'"), "\(problem)")
        // Nor will the federation issue one.
        #expect(throws: FederationError.self) {
            try FederationCertificates.issue(
                role: .analyst(name), federation: "wire-test", authority: authority, notBefore: Date(), notAfter: Date().addingTimeInterval(60))
        }
    }

    @Test("provisioning issues an analyst-NAME kit per name: certificate, 0600 key, kit.json, no key share")
    func provisionsAnalystKits() async throws {
        let fixture = try WireFixture(extra: analystsSection)
        defer { fixture.remove() }
        let report = try fixture.provision()
        #expect(report.kits.map(\.name) == ["aggregator", "party-1", "party-2", "party-3", "analyst-alice", "analyst-bob-2"])
        let ca = try certificate(at: fixture.url("kits/ca/ca.pem"))
        for name in ["alice", "bob-2"] {
            let folder = fixture.url("kits/analyst-\(name)")
            let kit = try fixture.kit(.analyst(name))
            #expect(kit.role == .analyst(name))
            #expect(kit.analystName == name && kit.partyID == nil)
            #expect(kit.keyShare == nil && kit.thresholdPublicKey == nil)
            #expect(kit.manifest.analysts.names == ["alice", "bob-2"])
            #expect(try FederationCertificates.role(of: kit.certificate) == .analyst(name))
            #expect(kit.authorityFingerprint == report.ca.fingerprint)
            #expect(try permissions(folder.appendingPathComponent("key.pem")) == 0o600)
            #expect(try permissions(folder) == 0o700)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(!files.contains("key-share.json") && !files.contains("threshold-public-key.json"), "\(files)")
            let descriptor = try KitDescriptor.decode(try Data(contentsOf: folder.appendingPathComponent("kit.json")))
            #expect(descriptor.role == "analyst" && descriptor.analyst == name && descriptor.party == nil)
            #expect(try descriptor.holder() == .analyst(name))
            // An independent RFC 5280 path validation against the CA alone.
            var verifier = Verifier(rootCertificates: CertificateStore([ca])) { RFC5280Policy() }
            let result = await verifier.validate(leaf: kit.certificate, intermediates: CertificateStore())
            guard case .validCertificate = result else {
                Issue.record("analyst \(name)'s certificate does not chain to the CA: \(result)")
                continue
            }
        }
        // Party and aggregator kits say nothing of analysts.
        let party = try KitDescriptor.decode(try Data(contentsOf: fixture.url("kits/party-1/kit.json")))
        #expect(party.analyst == nil)
        #expect(!String(decoding: try Data(contentsOf: fixture.url("kits/party-1/kit.json")), as: UTF8.self).contains("analyst"))
    }

    @Test("an analyst kit gives TLS client credentials, never a party's; a party kit gives no analyst credentials")
    func credentials() throws {
        let fixture = try WireFixture(mode: "secagg", extra: analystsSection)
        defer { fixture.remove() }
        try fixture.provision()
        let analyst = try fixture.kit(.analyst("alice"))
        let credentials = try analyst.analystCredentials()
        #expect(credentials.role == .analyst("alice"))
        #expect(credentials.certificate == analyst.certificate && credentials.authority == analyst.authority)
        let key = try P256.Signing.PrivateKey(pemRepresentation: credentials.privateKeyPEM)
        #expect(Certificate.PublicKey(key.publicKey) == analyst.certificate.publicKey)
        let partyError = #expect(throws: FederationError.self) { try analyst.partyCredentials() }
        #expect("\(partyError!)".contains("analyst alice's kit has no party credentials"), "\(partyError!)")
        let party = try fixture.kit(.party(1))
        #expect(party.clientCredentials().role == .party(1))
        let analystError = #expect(throws: FederationError.self) { try party.analystCredentials() }
        #expect("\(analystError!)".contains("party 1's kit; an analyst needs its own analyst-NAME/ kit"), "\(analystError!)")
    }

    @Test("kit.json naming a malformed or another analyst is refused")
    func tamperedDescriptor() throws {
        let fixture = try WireFixture(mode: "secagg", extra: analystsSection)
        defer { fixture.remove() }
        try fixture.provision()
        let url = fixture.url("kits/analyst-alice/kit.json")
        let original = try String(contentsOf: url, encoding: .utf8)
        for (replacement, expected) in [
            ("\"Alice\"", "field \"analyst\": expected an analyst name"),
            ("\"bob-2\"", "certifies analyst alice but kit.json says this kit is analyst bob-2's"),
        ] {
            try Data(original.replacingOccurrences(of: "\"alice\"", with: replacement).utf8).write(to: url)
            let error = #expect(throws: FederationError.self) { try fixture.kit(.analyst("alice")) }
            #expect("\(error!)".contains(expected), "\(error!)")
        }
        try Data(original.replacingOccurrences(of: "\"analyst\" : \"alice\",", with: "").utf8).write(to: url)
        let error = #expect(throws: FederationError.self) { try fixture.kit(.analyst("alice")) }
        #expect("\(error!)".contains("field \"analyst\" is missing"), "\(error!)")
    }

    @Test("an analyst's certificate is refused as a party on the Round stream and the catalog RPCs, saying it is an analyst's")
    func analystIsNotAParty() async throws {
        let fixture = try WireFixture(mode: "secagg", extra: analystsSection)
        defer { fixture.remove() }
        try fixture.provision()
        let aggregator = try fixture.kit(.aggregator)
        let analyst = try fixture.kit(.analyst("alice"))
        let admissions = Admissions()
        try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
            let connection = try PartyConnection(kit: analyst, aggregator: address, retry: .never)
            // The TLS credentials work: the aggregator accepts the certificate and answers.
            #expect(try await connection.status().federation == "wire-test")
            // Claiming to be party 1 changes nothing: the certificate decides.
            let round = await #expect(throws: FederationError.self) {
                try await connection.round(hello: hello(party: 1)) { stream in
                    for try await _ in stream.messages {}
                }
            }
            #expect(
                round?.description.contains("only parties may join rounds; this certificate belongs to analyst alice") == true,
                "\(String(describing: round))")
            let catalog = await #expect(throws: FederationError.self) {
                try await connection.queryCatalog(Fedshare_V1_QueryCatalogRequest())
            }
            #expect(
                catalog?.description.contains("only parties may query the catalog directory; this certificate belongs to analyst alice") == true,
                "\(String(describing: catalog))")
        }
        #expect(admissions.admitted.isEmpty)
    }
}
