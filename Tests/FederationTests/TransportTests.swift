import Crypto
import FederationProtocol
import Foundation
import Logging
import Synchronization
import Testing
import X509

@testable import Federation

/// Runs an aggregator server for `kit` on an OS-chosen loopback port while `body` runs.
func withAggregator<T: Sendable>(
    kit: FederationKit, limits: TransportLimits = .default, logger: Logger = Logger(label: "fedshare.transport"),
    sessions: @escaping AggregatorServer.SessionHandler, directory: FederationDirectory? = nil,
    _ body: @Sendable (HostPort) async throws -> T
) async throws -> T {
    let server = try AggregatorServer(
        kit: kit, listen: HostPort(host: "127.0.0.1", port: 0), limits: limits, logger: logger, sessions: sessions,
        status: {
            Fedshare_V1_StatusReply.with {
                $0.federation = kit.manifest.name
                $0.connected = [1]
            }
        },
        directory: directory)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.serve() }
        defer { server.shutdown() }
        let address = try await server.listeningAddress
        let result = try await body(address)
        server.shutdown()
        try await group.waitForAll()
        return result
    }
}

func hello(party: Int) -> Fedshare_V1_PartyEnvelope {
    .with {
        $0.protocolVersion = 1
        $0.partyID = UInt32(party)
        $0.hello = .with {
            $0.supportedVersions = [1]
            $0.software = "transport test"
        }
    }
}

/// Counts the sessions an aggregator admitted.
final class Admissions: Sendable {
    private let parties = Mutex<[Int]>([])
    func record(_ party: Int) { parties.withLock { $0.append(party) } }
    var admitted: [Int] { parties.withLock { $0 } }
}

/// An echo engine: welcomes the party, then answers each message with a result ack-like envelope.
func echoSession(_ admissions: Admissions) -> AggregatorServer.SessionHandler {
    { stream in
        admissions.record(stream.partyID)
        try await stream.send(
            .with {
                $0.protocolVersion = 1
                $0.welcome = .with {
                    $0.federation = "wire-test"
                    $0.connected = [UInt32(stream.partyID)]
                }
            })
        for try await message in stream.messages {
            guard case .refuse(let refuse) = message.body else { continue }
            try await stream.send(
                .with {
                    $0.protocolVersion = 1
                    $0.abort = .with { $0.reason = "echo: \(refuse.message)" }
                })
        }
    }
}

/// A kit that trusts `trusting`'s CA but presents `presenting`'s certificate and key.
func mixedKit(trusting: FederationKit, presenting: FederationKit) -> FederationKit {
    FederationKit(
        folder: presenting.folder, role: presenting.role, manifest: trusting.manifest, authority: trusting.authority,
        certificate: presenting.certificate, authorityPEM: trusting.authorityPEM, certificatePEM: presenting.certificatePEM,
        privateKeyPEM: presenting.privateKeyPEM, thresholdPublicKey: nil, keyShare: nil,
        authorityFingerprint: trusting.authorityFingerprint, certificateFingerprint: presenting.certificateFingerprint,
        warnings: [])
}

@Suite("Transport over loopback mutual TLS", .timeLimit(.minutes(1)))
struct TransportTests {
    @Test("an authenticated party connects and exchanges messages")
    func exchange() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let aggregator = try fixture.kit(.aggregator)
        let party = try fixture.kit(.party(2))
        let admissions = Admissions()
        let reply = try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
            let connection = try PartyConnection(kit: party, aggregator: address, retry: .never)
            let status = try await connection.status()
            #expect(status.federation == "wire-test")
            return try await connection.round(hello: hello(party: 2)) { stream in
                var messages = stream.messages.makeAsyncIterator()
                let welcome = try #require(try await messages.next())
                guard case .welcome(let body) = welcome.body else { throw FederationError.streamFailed(address: "", reason: "no welcome") }
                #expect(body.connected == [2])
                try await stream.send(
                    .with {
                        $0.protocolVersion = 1
                        $0.partyID = 2
                        $0.refuse = .with { $0.message = "ping" }
                    })
                let answer = try #require(try await messages.next())
                guard case .abort(let abort) = answer.body else { return "" }
                return abort.reason
            }
        }
        #expect(reply == "echo: ping")
        #expect(admissions.admitted == [2])
    }

    @Test("party 2's certificate claiming id 3 is refused")
    func identityMismatch() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let aggregator = try fixture.kit(.aggregator)
        let party = try fixture.kit(.party(2))
        let admissions = Admissions()
        let error = await #expect(throws: FederationError.self) {
            try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
                let connection = try PartyConnection(kit: party, aggregator: address, retry: .never)
                try await connection.round(hello: hello(party: 3)) { stream in
                    for try await _ in stream.messages {}
                }
            }
        }
        #expect(error?.description.contains("refused this participant") == true)
        #expect(error?.description.contains("identifies party 2, but the stream claims party 3") == true)
        #expect(admissions.admitted.isEmpty)
    }

    @Test("a party with a certificate from another CA is refused")
    func foreignAuthority() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision(into: "real")
        try fixture.provision(into: "rogue")
        let aggregator = try fixture.kit(.aggregator, in: "real")
        let rogue = try fixture.kit(.party(1), in: "rogue")
        let admissions = Admissions()

        // The rogue party trusts the real CA (it is public) but its own certificate is not from it.
        let impostor = mixedKit(trusting: aggregator, presenting: rogue)
        let refused = await #expect(throws: FederationError.self) {
            try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
                let connection = try PartyConnection(kit: impostor, aggregator: address, retry: .never)
                try await connection.round(hello: hello(party: 1)) { stream in
                    for try await _ in stream.messages {}
                }
            }
        }
        guard case .refused(_, let reason) = refused else {
            Issue.record("expected a refusal, got \(String(describing: refused))")
            return
        }
        #expect(reason.contains("another CA"))
        #expect(reason.contains("(TLS alert unknown_ca)"), "\(reason)")

        // A kit from another provisioning does not trust the real aggregator either.
        let untrusted = await #expect(throws: FederationError.self) {
            try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
                let connection = try PartyConnection(kit: rogue, aggregator: address, retry: .never)
                try await connection.round(hello: hello(party: 1)) { stream in
                    for try await _ in stream.messages {}
                }
            }
        }
        guard case .untrustedAggregator = untrusted else {
            Issue.record("expected an untrusted aggregator, got \(String(describing: untrusted))")
            return
        }
        #expect(admissions.admitted.isEmpty)
    }

    @Test("an expired certificate is refused")
    func expiredCertificate() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let aggregator = try fixture.kit(.aggregator)
        let party = try fixture.kit(.party(1))
        // Issue party 1 a certificate that expired yesterday, from the real CA.
        let caKey = try P256SigningKey.load(fixture.url("kits/ca/ca-key.pem"))
        let authority = FederationCertificates.Issued(certificate: aggregator.authority, privateKey: caKey)
        let expired = try FederationCertificates.issue(
            role: .party(1), federation: "wire-test", authority: authority,
            notBefore: Date().addingTimeInterval(-3 * 86_400), notAfter: Date().addingTimeInterval(-86_400))
        let stale = FederationKit(
            folder: party.folder, role: party.role, manifest: party.manifest, authority: party.authority,
            certificate: expired.certificate, authorityPEM: party.authorityPEM, certificatePEM: try expired.certificatePEM(),
            privateKeyPEM: expired.privateKeyPEM, thresholdPublicKey: nil, keyShare: nil,
            authorityFingerprint: party.authorityFingerprint,
            certificateFingerprint: FederationCertificates.fingerprint(expired.certificate), warnings: [])
        let admissions = Admissions()
        let error = await #expect(throws: FederationError.self) {
            try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
                let connection = try PartyConnection(kit: stale, aggregator: address, retry: .never)
                try await connection.round(hello: hello(party: 1)) { stream in
                    for try await _ in stream.messages {}
                }
            }
        }
        guard case .refused(_, let reason) = error else {
            Issue.record("expected a refusal, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("this kit's certificate expired on \(FederationCertificates.timestamp(expired.certificate.notValidAfter))"), "\(reason)")
        #expect(reason.contains("(TLS alert certificate_expired)"), "\(reason)")
        #expect(admissions.admitted.isEmpty)
    }

    @Test("a certificate that is not valid yet is refused, and the party is told which")
    func notYetValidCertificate() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let aggregator = try fixture.kit(.aggregator)
        let party = try fixture.kit(.party(1))
        // Party 1's certificate from the real CA, valid from tomorrow.
        let caKey = try P256SigningKey.load(fixture.url("kits/ca/ca-key.pem"))
        let authority = FederationCertificates.Issued(certificate: aggregator.authority, privateKey: caKey)
        let early = try FederationCertificates.issue(
            role: .party(1), federation: "wire-test", authority: authority,
            notBefore: Date().addingTimeInterval(86_400), notAfter: Date().addingTimeInterval(30 * 86_400))
        let premature = FederationKit(
            folder: party.folder, role: party.role, manifest: party.manifest, authority: party.authority,
            certificate: early.certificate, authorityPEM: party.authorityPEM, certificatePEM: try early.certificatePEM(),
            privateKeyPEM: early.privateKeyPEM, thresholdPublicKey: nil, keyShare: nil,
            authorityFingerprint: party.authorityFingerprint,
            certificateFingerprint: FederationCertificates.fingerprint(early.certificate), warnings: [])
        let admissions = Admissions()
        let error = await #expect(throws: FederationError.self) {
            try await withAggregator(kit: aggregator, sessions: echoSession(admissions)) { address in
                let connection = try PartyConnection(kit: premature, aggregator: address, retry: .never)
                try await connection.round(hello: hello(party: 1)) { stream in
                    for try await _ in stream.messages {}
                }
            }
        }
        guard case .refused(_, let reason) = error else {
            Issue.record("expected a refusal, got \(String(describing: error))")
            return
        }
        // BoringSSL sends certificate_expired for both; the party's own dates say which.
        #expect(reason.contains("not valid before \(FederationCertificates.timestamp(early.certificate.notValidBefore))"), "\(reason)")
        #expect(reason.contains("(TLS alert certificate_expired)"), "\(reason)")
        #expect(admissions.admitted.isEmpty)
        // Loading such a kit from disk is refused before any connection, with the same words.
        #expect(throws: FederationError.self) {
            try FederationCertificates.checkValidity(early.certificate, at: Date(), source: "party-1/certificate.pem")
        }
    }

    @Test("a party removed from the aggregator's manifest is refused, on both sides with the reason")
    func removedFromManifest() async throws {
        let fixture = try WireFixture(parties: [1, 2, 3])
        defer { fixture.remove() }
        try fixture.provision()
        let provisioned = try fixture.kit(.aggregator)
        let party3 = try fixture.kit(.party(3))
        // The operator removed party 3: the aggregator now runs with a manifest listing 1 and 2
        // (same federation, same CA); party 3's certificate is still valid.
        let smaller = try WireFixture(parties: [1, 2])
        defer { smaller.remove() }
        let aggregator = FederationKit(
            folder: provisioned.folder, role: .aggregator, manifest: try smaller.manifest, authority: provisioned.authority,
            certificate: provisioned.certificate, authorityPEM: provisioned.authorityPEM, certificatePEM: provisioned.certificatePEM,
            privateKeyPEM: provisioned.privateKeyPEM, thresholdPublicKey: nil, keyShare: nil,
            authorityFingerprint: provisioned.authorityFingerprint, certificateFingerprint: provisioned.certificateFingerprint, warnings: [])
        let admissions = Admissions()
        let capture = LogCapture()
        let error = await #expect(throws: FederationError.self) {
            try await withAggregator(kit: aggregator, logger: capture.logger("fedshare.transport"), sessions: echoSession(admissions)) { address in
                let connection = try PartyConnection(kit: party3, aggregator: address, retry: .never)
                try await connection.round(hello: hello(party: 3)) { stream in
                    for try await _ in stream.messages {}
                }
            }
        }
        guard case .refused(_, let reason) = error else {
            Issue.record("expected a refusal, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("party 3 is not a member of federation wire-test"), "\(reason)")
        #expect(reason.contains("lists parties [1, 2]"), "\(reason)")
        #expect(error?.description.contains("refused this participant") == true)
        #expect(admissions.admitted.isEmpty)
        // The aggregator's log says whom it refused and why.
        #expect(capture.text.contains("refused a connection"), "\(capture.text)")
        #expect(capture.text.contains("party=3"), "\(capture.text)")
        #expect(capture.text.contains("removed from the federation"), "\(capture.text)")
    }

    @Test("an unreachable aggregator is retried with backoff, then named")
    func unreachable() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let party = try fixture.kit(.party(1))
        // Bind and release a port so that nothing listens on it.
        // swift-format-ignore: OnlyOneTrailingClosureArgument
        let free = try await withAggregator(kit: try fixture.kit(.aggregator), sessions: { _ in }) { $0 }
        // Long enough for two attempts even on a loaded machine (one attempt once took over 700 ms at load 6).
        let retry = RetryPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), giveUpAfter: .seconds(3))
        let connection = try PartyConnection(kit: party, aggregator: free, retry: retry)
        let error = await #expect(throws: FederationError.self) {
            try await connection.round(hello: hello(party: 1)) { _ in }
        }
        guard case .unreachable(let address, let attempts, _, _) = error else {
            Issue.record("expected unreachable, got \(String(describing: error))")
            return
        }
        #expect(address == free.description)
        #expect(attempts >= 2)
        #expect(error?.description.contains("cannot reach the aggregator at 127.0.0.1:") == true)
    }

    @Test("an oversized message is refused before the engine sees it")
    func messageSizeLimit() async throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let aggregator = try fixture.kit(.aggregator)
        let party = try fixture.kit(.party(1))
        let received = Admissions()
        let limits = TransportLimits(maxMessageBytes: 64 << 10)
        // swift-format-ignore: OnlyOneTrailingClosureArgument
        let outcome: String = try await withAggregator(
            kit: aggregator, limits: limits,
            sessions: { stream in
                for try await message in stream.messages { received.record(Int(message.partyID)) }
            }
        ) { address in
            // The party's own limit is higher, so the oversized message leaves it.
            let connection = try PartyConnection(kit: party, aggregator: address, limits: TransportLimits(maxMessageBytes: 1 << 20), retry: .never)
            do {
                try await connection.round(hello: hello(party: 1)) { stream in
                    try await stream.send(
                        .with {
                            $0.protocolVersion = 1
                            $0.partyID = 1
                            $0.contribution = .with { $0.ciphertexts = Data(count: 200 << 10) }
                        })
                    for try await _ in stream.messages {}
                }
                return "completed"
            } catch {
                return "\(error)"
            }
        }
        #expect(outcome.contains("closed the stream"))
        #expect(received.admitted.isEmpty)

        // With the same limit on both sides, the party refuses to send it at all.
        // swift-format-ignore: OnlyOneTrailingClosureArgument
        let local: String = try await withAggregator(
            kit: aggregator, limits: limits,
            sessions: { stream in
                for try await message in stream.messages { received.record(Int(message.partyID)) }
            }
        ) { address in
            let connection = try PartyConnection(kit: party, aggregator: address, limits: limits, retry: .never)
            do {
                try await connection.round(hello: hello(party: 1)) { stream in
                    try await stream.send(
                        .with {
                            $0.protocolVersion = 1
                            $0.partyID = 1
                            $0.contribution = .with { $0.ciphertexts = Data(count: 200 << 10) }
                        })
                }
                return "completed"
            } catch {
                return "\(error)"
            }
        }
        #expect(local.contains("exceeds the 65536-byte limit"))
        #expect(received.admitted.isEmpty)
    }
}

/// Reads a P-256 private key PEM file.
enum P256SigningKey {
    static func load(_ url: URL) throws -> Crypto.P256.Signing.PrivateKey {
        try Crypto.P256.Signing.PrivateKey(pemRepresentation: String(decoding: try Data(contentsOf: url), as: UTF8.self))
    }
}
