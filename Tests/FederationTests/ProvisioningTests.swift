import Attention
import Crypto
import Foundation
import Manifest
import Paillier
import SwiftASN1
import Testing
import X509

@testable import Federation

/// A small federation on disk: a manifest and its anchors in a fresh temporary folder.
struct WireFixture {
    let folder: URL
    let manifestURL: URL

    init(
        parties: [Int] = [1, 2, 3], threshold: Int = 2, aggregator: String = "127.0.0.1:7443", anchorsPath: String = "anchors.csv",
        mode: String = "paillier", extra: String = ""
    ) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-wire-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("federation"), withIntermediateDirectories: true)
        let anchors = "name,e1,e2\nsports,1.0,0.0\nmusic,0.0,1.0\n"
        let anchorsURL = URL(fileURLWithPath: anchorsPath, relativeTo: folder.appendingPathComponent("federation/"))
        try FileManager.default.createDirectory(at: anchorsURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(anchors.utf8).write(to: anchorsURL)
        manifestURL = folder.appendingPathComponent("federation/manifest.toml")
        let manifest = """
            [federation]
            name = "wire-test"
            parties = [\(parties.map(String.init).joined(separator: ", "))]
            threshold = \(threshold)
            aggregator = "\(aggregator)"

            [attention]
            anchors = "\(anchorsPath)"
            groups = ["a", "b"]

            [privacy]
            mechanism = "gaussian"
            epsilon = 1.0
            delta = 1e-6
            epsilon_budget = 4.0
            delta_budget = 1e-5

            [crypto]
            mode = "\(mode)"
            key_bits = 2048
            \(extra)
            """
        try Data(manifest.utf8).write(to: manifestURL)
    }

    var manifest: FederationManifest { get throws { try FederationManifest.load(from: manifestURL) } }

    /// Provisions into `out` with an insecure 512-bit key (tests only).
    @discardableResult
    func provision(
        into name: String = "kits", force: Bool = false, now: Date = Date(), validityDays: Int = 365,
        dealing: ThresholdDealer.Dealing? = nil
    ) throws -> Provisioner.Report {
        var options = Provisioner.Options()
        options.force = force
        options.now = now
        options.validityDays = validityDays
        options.keyBits = 512
        options.keyPolicy = .insecureTestOnly
        options.dealing = dealing
        return try Provisioner.provision(manifest: manifest, to: folder.appendingPathComponent(name), options: options)
    }

    func kit(_ role: FederationRole, in name: String = "kits") throws -> FederationKit {
        try FederationKit.load(from: folder.appendingPathComponent(name).appendingPathComponent(role.name), keyPolicy: .insecureTestOnly)
    }

    func url(_ path: String) -> URL { folder.appendingPathComponent(path) }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

func permissions(_ url: URL) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

func certificate(at url: URL) throws -> Certificate {
    try Certificate(pemEncoded: String(decoding: try Data(contentsOf: url), as: UTF8.self))
}

@Suite("Provisioning")
struct ProvisioningTests {
    @Test("provisioning makes a CA, certificates and kits that verify, with private files 0600")
    func provisionsValidKits() async throws {
        let fixture = try WireFixture(parties: [1, 2, 5], threshold: 2)
        defer { fixture.remove() }
        let report = try fixture.provision()
        #expect(report.kits.map(\.name) == ["aggregator", "party-1", "party-2", "party-5"])
        #expect(report.keyBits == 512)
        #expect(report.warnings.isEmpty)

        let ca = try certificate(at: fixture.url("kits/ca/ca.pem"))
        #expect(try permissions(fixture.url("kits/ca/ca-key.pem")) == 0o600)
        // The fingerprint printed is SHA-256 over the certificate's DER bytes.
        let caDER = try FederationCertificates.derBytes(ca)
        let caDigest = Crypto.SHA256.hash(data: caDER).map { String(format: "%02x", $0) }.joined(separator: ":")
        #expect(report.ca.fingerprint == caDigest)

        let roots = CertificateStore([ca])
        for entry in report.kits {
            let folder = fixture.url("kits/\(entry.name)")
            let leaf = try certificate(at: folder.appendingPathComponent("cert.pem"))
            #expect(FederationCertificates.fingerprint(leaf) == entry.fingerprint)
            // An independent RFC 5280 path validation against the CA alone.
            var verifier = Verifier(rootCertificates: roots) { RFC5280Policy() }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
            guard case .validCertificate(let chain) = result else {
                Issue.record("\(entry.name)'s certificate does not chain to the CA: \(result)")
                continue
            }
            #expect(chain.count == 2)
            #expect(try permissions(folder.appendingPathComponent("key.pem")) == 0o600)
            #expect(try permissions(folder) == 0o700)
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("anchors.csv").path))
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("threshold-public-key.json").path))
        }

        // Identities.
        let aggregator = try fixture.kit(.aggregator)
        #expect(aggregator.role == .aggregator)
        #expect(aggregator.keyShare == nil)
        let names = try #require(try aggregator.certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.uniformResourceIdentifier("fedshare:aggregator")))
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))))
        #expect(try aggregator.certificate.extensions.extendedKeyUsage?.contains(.serverAuth) == true)

        for (party, index) in [(1, 1), (2, 2), (5, 3)] {
            let kit = try fixture.kit(.party(party))
            #expect(kit.role == .party(party))
            #expect(kit.partyID == party)
            #expect(try FederationCertificates.role(of: kit.certificate) == .party(party))
            let partyNames = try #require(try kit.certificate.extensions.subjectAlternativeNames)
            #expect(Array(partyNames) == [.uniformResourceIdentifier("fedshare:party:\(party)")])
            #expect(kit.certificate.subject.description.contains("CN=party-\(party)"))
            #expect(try kit.certificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
            // Shares follow the ascending order of party ids, and verify against the key.
            let share = try #require(kit.keyShare)
            #expect(share.party == index)
            #expect(FederationKit.shareIndex(ofParty: party, in: kit.manifest) == index)
            #expect(try RoundPlan(manifest: kit.manifest).party(ofShareIndex: index) == party)
            #expect(kit.thresholdPublicKey == aggregator.thresholdPublicKey)
            #expect(try permissions(kit.folder.appendingPathComponent("key-share.json")) == 0o600)
            #expect(kit.authorityFingerprint == report.ca.fingerprint)
            // Every kit carries the same manifest bytes.
            #expect(kit.manifest.digest == aggregator.manifest.digest)
        }
        // No staging folder is left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.url("kits").path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test("a DNS aggregator address gives a DNS name, without loopback names")
    func dnsAggregatorNames() throws {
        let fixture = try WireFixture(aggregator: "aggregator.example.org:7443")
        defer { fixture.remove() }
        try fixture.provision()
        let kit = try fixture.kit(.aggregator)
        let names = try #require(try kit.certificate.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.uniformResourceIdentifier("fedshare:aggregator"), .dnsName("aggregator.example.org")])
        #expect(FederationCertificates.subjectAlternativeHosts(forAddress: "[::1]:9000") == ["::1", "localhost", "127.0.0.1"])
    }

    @Test("an existing CA is kept unless forced")
    func refusesToOverwriteAuthority() throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        let first = try fixture.provision()
        #expect {
            try fixture.provision()
        } throws: { error in
            guard case FederationError.existingAuthority(let path) = error else { return false }
            return path.hasSuffix("kits/ca/ca.pem") && "\(error)".contains("--force")
        }
        // Nothing changed.
        #expect(try fixture.kit(.party(1)).authorityFingerprint == first.ca.fingerprint)
        let second = try fixture.provision(force: true)
        #expect(second.ca.fingerprint != first.ca.fingerprint)
        #expect(try fixture.kit(.party(1)).authorityFingerprint == second.ca.fingerprint)
        #expect(try fixture.kit(.aggregator).authorityFingerprint == second.ca.fingerprint)
    }

    @Test("a failing provisioning leaves no kit behind")
    func failureLeavesNothing() throws {
        let fixture = try WireFixture(anchorsPath: "../outside.csv")
        defer { fixture.remove() }
        #expect {
            try fixture.provision()
        } throws: { error in
            guard case FederationError.unsupportedManifestReference(let field, _) = error else { return false }
            return field == "attention.anchors"
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.url("kits").path))

        // A dealt key that does not fit the manifest: refused after nothing was written.
        let other = try WireFixture(parties: [1, 2, 3], threshold: 3)
        defer { other.remove() }
        var random = SystemRandomNumberGenerator()
        let dealing = try ThresholdDealer.deal(bits: 512, threshold: 2, parties: 3, policy: .insecureTestOnly, using: &random)
        #expect(throws: FederationError.self) { try other.provision(dealing: dealing) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: other.url("kits").path)) ?? []
        #expect(entries.isEmpty)
    }

    @Test("a CA that expires within 30 days is warned about")
    func warnsAboutShortValidity() throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        let report = try fixture.provision(validityDays: 10)
        #expect(report.warnings.count == 1)
        #expect(report.warnings.first?.contains("expires") == true)
        #expect(try fixture.kit(.party(1)).warnings.count == 2)
    }

    @Test("kit loading names the file at fault")
    func kitErrors() throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let party1 = fixture.url("kits/party-1")
        let party2 = fixture.url("kits/party-2")

        // A key readable by others.
        #expect(chmod(party1.appendingPathComponent("key.pem").path, 0o644) == 0)
        #expect {
            try fixture.kit(.party(1))
        } throws: { "\($0)".contains("party-1/key.pem") && "\($0)".contains("chmod 600") }
        #expect(chmod(party1.appendingPathComponent("key.pem").path, 0o600) == 0)
        _ = try fixture.kit(.party(1))

        // Another party's certificate.
        let cert2 = party2.appendingPathComponent("cert.pem")
        let saved = try Data(contentsOf: cert2)
        try FileManager.default.removeItem(at: cert2)
        try FileManager.default.copyItem(at: party1.appendingPathComponent("cert.pem"), to: cert2)
        #expect {
            try fixture.kit(.party(2))
        } throws: { "\($0)".contains("party-2/cert.pem") && "\($0)".contains("certifies party 1") }
        try FileManager.default.removeItem(at: cert2)
        try saved.write(to: cert2)
        _ = try fixture.kit(.party(2))

        // An altered manifest.
        let manifest = party2.appendingPathComponent("manifest.toml")
        let original = try Data(contentsOf: manifest)
        try (original + Data("\n# edited\n".utf8)).write(to: manifest)
        #expect {
            try fixture.kit(.party(2))
        } throws: { "\($0)".contains("manifest.toml") && "\($0)".contains("changed since provisioning") }
        try original.write(to: manifest)

        // A missing or broken kit.json.
        #expect {
            try FederationKit.load(from: fixture.url("kits/party-9"))
        } throws: { "\($0)".contains("party-9") && "\($0)".contains("no such kit folder") }
        try Data("{\"format\": \"fedshare.kit\"}".utf8).write(to: party2.appendingPathComponent("kit.json"))
        #expect {
            try fixture.kit(.party(2))
        } throws: { "\($0)".contains("kit.json") && "\($0)".contains("missing field") }
    }

    @Test("an expired kit is refused at loading")
    func expiredKit() throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision(now: Date().addingTimeInterval(-10 * 86_400), validityDays: 2)
        #expect {
            try fixture.kit(.party(1))
        } throws: { "\($0)".contains("expired on") }
    }
}
