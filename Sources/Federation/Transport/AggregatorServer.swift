import FederationProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf
import X509

/// A party's `Round` stream, admitted by the aggregator's transport: the party presented a
/// certificate from the federation CA whose identity is `partyID`, it is a member of the
/// manifest, and its first message was a `Hello` claiming that same id.
///
/// The engine reads `messages` (every later envelope; each is checked to carry `partyID`) and
/// answers through `send(_:)`. The stream stays open until the session handler returns.
public struct PartyStream: Sendable {
    /// The party id from the certificate (and the hello).
    public let partyID: Int
    /// SHA-256 fingerprint of the party's certificate.
    public let certificateFingerprint: String
    /// The peer's address, as gRPC reports it (`ipv4:127.0.0.1:54321`).
    public let remotePeer: String
    /// The first message: a `Hello` whose `party_id` matched the certificate.
    public let hello: Fedshare_V1_PartyEnvelope
    /// The party's later messages, in order.
    public let messages: PartyMessages
    let writer: RPCWriter<Fedshare_V1_AggregatorEnvelope>
    let maxMessageBytes: Int

    /// Sends one envelope to the party.
    /// - Throws: ``FederationError/peerViolation(party:reason:)`` for a message above the size
    ///   limit, `RPCError` when the stream is closed.
    public func send(_ envelope: Fedshare_V1_AggregatorEnvelope) async throws {
        try checkSize(envelope, limit: maxMessageBytes, party: nil)
        try await writer.write(envelope)
    }
}

/// The messages of one party stream after its hello. Iterating throws
/// ``FederationError/peerViolation(party:reason:)`` when an envelope claims another party id.
public struct PartyMessages: AsyncSequence, Sendable {
    public typealias Element = Fedshare_V1_PartyEnvelope
    let source: InboundPartyMessages

    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: InboundPartyMessages
        public mutating func next() async throws -> Fedshare_V1_PartyEnvelope? { try await source.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }
}

/// Owns the gRPC request iterator of one stream, so that the engine can read it from any task
/// (one reader at a time).
actor InboundPartyMessages {
    /// The iterator lives in a box: an actor cannot pass its own stored property `inout` to an
    /// async call, but it can mutate a value inside an object only it holds.
    private final class Box {
        var iterator: RPCAsyncSequence<Fedshare_V1_PartyEnvelope, any Error>.AsyncIterator
        init(_ iterator: RPCAsyncSequence<Fedshare_V1_PartyEnvelope, any Error>.AsyncIterator) { self.iterator = iterator }
        func next(isolation actor: isolated (any Actor)) async throws -> Fedshare_V1_PartyEnvelope? {
            try await iterator.next(isolation: actor)
        }
    }
    private let box: Box
    private var reading = false
    /// The certified party id.
    private let partyID: Int

    init(_ messages: RPCAsyncSequence<Fedshare_V1_PartyEnvelope, any Error>, partyID: Int) {
        self.box = Box(messages.makeAsyncIterator())
        self.partyID = partyID
    }

    /// The next raw envelope (no identity check: used for the hello).
    func nextUnchecked() async throws -> Fedshare_V1_PartyEnvelope? {
        guard !reading else {
            throw FederationError.peerViolation(party: partyID, reason: "internal: two readers on one party stream")
        }
        reading = true
        defer { reading = false }
        return try await box.next(isolation: self)
    }

    func next() async throws -> Fedshare_V1_PartyEnvelope? {
        guard let envelope = try await nextUnchecked() else { return nil }
        guard envelope.partyID == UInt32(partyID) else {
            throw FederationError.peerViolation(
                party: partyID, reason: "its certificate identifies party \(partyID), but a message claims party \(envelope.partyID)")
        }
        return envelope
    }
}

/// The aggregator's side of the transport: a gRPC server over HTTP/2 with mutual TLS that
/// admits only parties of this federation, and hands each admitted `Round` stream to the engine.
///
/// ## Admission
/// 1. TLS: the client must present a certificate chaining to the federation CA (the only trust
///    root), within its validity period; BoringSSL refuses anything else during the handshake,
///    so the client sees a TLS alert (unknown CA, expired certificate…).
/// 2. Identity: the verified leaf certificate of the connection (grpc-swift-nio-transport's
///    `HTTP2ServerTransport.Posix.Context.peerCertificate`, taken from the TLS session) must
///    name a party (`fedshare:party:N`, matching common name `party-N`) that the manifest lists.
/// 3. Claim: the stream's first message must be a `Hello` whose `party_id` is N; every later
///    message must carry N as well. A mismatch ends the stream with `PERMISSION_DENIED` and a
///    message naming both ids (and an `Error{IDENTITY}` envelope first).
///
/// Messages larger than ``TransportLimits/maxMessageBytes`` are refused by the HTTP/2 transport
/// from their length prefix, before they are buffered.
public final class AggregatorServer: Sendable {
    /// Called for every admitted party stream; the stream ends when it returns.
    public typealias SessionHandler = @Sendable (PartyStream) async throws -> Void
    /// Answers the `Status` RPC.
    public typealias StatusProvider = @Sendable () async -> Fedshare_V1_StatusReply
    /// Answers an analyst's `Request` (the analyst's name as its certificate proves it): runs
    /// the round and returns how it went.
    public typealias RequestHandler = @Sendable (Wire.SignedRoundRequest, _ analyst: String) async throws -> Fedshare_V1_RequestReply

    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let requested: HostPort

    /// Makes a server for `kit` (which must be the aggregator's kit).
    ///
    /// - Parameters:
    ///   - listen: the address to bind; nil: the manifest's aggregator address (a DNS name
    ///     binds every IPv4 interface). Port 0 lets the system choose (see ``listeningAddress``).
    /// - Throws: ``FederationError`` when the kit is not the aggregator's,
    ///   ``FederationError/invalidAddress(field:value:)``.
    public init(
        kit: FederationKit, listen: HostPort? = nil, limits: TransportLimits = .default,
        logger: Logger = Logger(label: "fedshare.transport"),
        sessions: @escaping SessionHandler, status: @escaping StatusProvider, directory: FederationDirectory? = nil,
        requests: RequestHandler? = nil
    ) throws {
        guard kit.role == .aggregator else {
            throw FederationError.invalidSetting(field: "--kit", problem: "\(kit.folder.path) is \(kit.role)'s kit; the aggregator needs the aggregator kit")
        }
        let address = try listen ?? HostPort(parsing: kit.manifest.aggregator, field: "manifest federation.aggregator")
        self.requested = address
        let transport = HTTP2ServerTransport.Posix(
            address: address.listeningAddress,
            transportSecurity: kit.serverTransportSecurity,
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = limits.maxMessageBytes
                // Pings find parties whose link died (their stream would otherwise stay open,
                // and hold a graceful shutdown, for TCP's minutes); parties ping every 10 s.
                config.connection.keepalive = .init(
                    time: .seconds(10), timeout: .seconds(5),
                    clientBehavior: .init(minPingIntervalWithoutCalls: .seconds(5), allowWithoutCalls: false))
            })
        self.transport = transport
        let service = FederationService(
            kit: kit, limits: limits, logger: logger, sessions: sessions, status: status,
            directory: directory, requests: requests)
        self.server = GRPCServer(transport: transport, services: [service])
    }

    /// Serves until ``shutdown()`` (or cancellation).
    /// - Throws: ``FederationError/cannotListen(address:reason:)``.
    public func serve() async throws {
        do {
            try await server.serve()
        } catch let error as RuntimeError {
            throw FederationError.cannotListen(address: requested.description, reason: TransportDiagnosis.text(of: error))
        }
    }

    /// The bound address (waits until the server listens).
    public var listeningAddress: HostPort {
        get async throws {
            let address: GRPCNIOTransportCore.SocketAddress
            do { address = try await transport.listeningAddress } catch {
                throw FederationError.cannotListen(address: requested.description, reason: TransportDiagnosis.text(of: error))
            }
            if let v4 = address.ipv4 { return HostPort(host: v4.host, port: v4.port) }
            if let v6 = address.ipv6 { return HostPort(host: v6.host, port: v6.port) }
            return requested
        }
    }

    /// Stops accepting streams and finishes when the open ones end.
    public func shutdown() {
        server.beginGracefulShutdown()
    }
}

/// The `fedshare.v1.Federation` service: admission checks, then the engine's handlers.
struct FederationService: Fedshare_V1_Federation.StreamingServiceProtocol {
    let kit: FederationKit
    let limits: TransportLimits
    let logger: Logger
    let sessions: AggregatorServer.SessionHandler
    let statusProvider: AggregatorServer.StatusProvider
    let directory: FederationDirectory?
    let requests: AggregatorServer.RequestHandler?

    init(
        kit: FederationKit, limits: TransportLimits, logger: Logger,
        sessions: @escaping AggregatorServer.SessionHandler, status: @escaping AggregatorServer.StatusProvider,
        directory: FederationDirectory?, requests: AggregatorServer.RequestHandler?
    ) {
        self.requests = requests
        self.kit = kit
        self.limits = limits
        self.logger = logger
        self.sessions = sessions
        self.statusProvider = status
        self.directory = directory
    }

    /// Why a certificate that is not a party's is refused where only parties may `action`. The
    /// role comes from the certificate (never from what a message claims), so an analyst's
    /// certificate is never taken for a party's.
    static func notAParty(_ role: FederationRole, action: String) -> String {
        switch role {
        case .analyst(let name):
            return "only parties may \(action); this certificate belongs to analyst \(name), and analysts request rounds, they do not take part in them"
        case .aggregator, .party:
            return "only parties may \(action); this certificate belongs to \(role)"
        }
    }

    /// The verified identity of the peer of `context`.
    func authenticate(_ context: ServerContext) throws -> (role: FederationRole, fingerprint: String) {
        guard let tls = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
            let certificate = tls.peerCertificate
        else {
            throw RPCError(code: .unauthenticated, message: "no client certificate (connect with the participant's kit)")
        }
        do {
            // TLS already verified the chain against the federation CA; checking again keeps the
            // guarantee local to this file.
            try FederationCertificates.checkIssued(certificate, by: kit.authority, at: Date(), source: "client certificate")
            let role = try FederationCertificates.role(of: certificate, source: "client certificate")
            return (role, FederationCertificates.fingerprint(certificate))
        } catch let error as FederationError {
            throw RPCError(code: .permissionDenied, message: error.description)
        }
    }

    func round(
        request: StreamingServerRequest<Fedshare_V1_PartyEnvelope>, context: ServerContext
    ) async throws -> StreamingServerResponse<Fedshare_V1_AggregatorEnvelope> {
        let peer = context.remotePeer
        let identity: (role: FederationRole, fingerprint: String)
        do { identity = try authenticate(context) } catch let error as RPCError {
            logger.warning("refused a connection", metadata: ["peer": "\(peer)", "reason": "\(error.message)"])
            throw error
        }
        guard case .party(let partyID) = identity.role else {
            let message = Self.notAParty(identity.role, action: "join rounds")
            logger.warning("refused a connection", metadata: ["peer": "\(peer)", "role": "\(identity.role)", "reason": "\(message)"])
            throw RPCError(code: .permissionDenied, message: message)
        }
        guard kit.manifest.parties.contains(partyID) else {
            let message =
                "party \(partyID) is not a member of federation \(kit.manifest.name): its certificate is valid, but the manifest the aggregator runs with lists parties \(kit.manifest.parties) (removed from the federation?)"
            logger.warning("refused a connection", metadata: ["peer": "\(peer)", "party": "\(partyID)", "reason": "\(message)"])
            throw RPCError(code: .permissionDenied, message: message)
        }
        let sessions = self.sessions
        let logger = self.logger
        let helloTimeout = limits.helloTimeout
        let maxMessageBytes = limits.maxMessageBytes
        let digest = kit.manifest.digest
        return StreamingServerResponse { writer in
            let inbound = InboundPartyMessages(request.messages, partyID: partyID)
            let first: Fedshare_V1_PartyEnvelope?
            do {
                first = try await withDeadline(helloTimeout) { try await inbound.nextUnchecked() }
            } catch is DeadlineExceeded {
                logger.warning("dropped a silent connection", metadata: ["peer": "\(peer)", "party": "\(partyID)"])
                throw RPCError(code: .deadlineExceeded, message: "no hello within \(helloTimeout)")
            }
            guard let hello = first else {
                throw RPCError(code: .cancelled, message: "the stream closed before its hello")
            }
            guard hello.partyID == UInt32(partyID) else {
                let message = "this certificate identifies party \(partyID), but the stream claims party \(hello.partyID)"
                logger.warning("refused a party", metadata: ["peer": "\(peer)", "party": "\(partyID)", "claimed": "\(hello.partyID)"])
                var refusal = Fedshare_V1_AggregatorEnvelope()
                refusal.protocolVersion = WireProtocol.version
                refusal.manifestHash = Data(digest)
                refusal.error = .with {
                    $0.code = .errorIdentity
                    $0.message = message
                    $0.phase = .join
                }
                try? await writer.write(refusal)
                throw RPCError(code: .permissionDenied, message: message)
            }
            guard case .hello = hello.body else {
                throw RPCError(code: .failedPrecondition, message: "the first message of a round stream must be a Hello")
            }
            logger.info("party connected", metadata: ["peer": "\(peer)", "party": "\(partyID)"])
            let stream = PartyStream(
                partyID: partyID, certificateFingerprint: identity.fingerprint, remotePeer: peer, hello: hello,
                messages: PartyMessages(source: inbound), writer: writer,
                maxMessageBytes: maxMessageBytes)
            do {
                try await sessions(stream)
            } catch let error as RPCError {
                throw error
            } catch let error as FederationError {
                logger.warning("party stream failed", metadata: ["party": "\(partyID)", "reason": "\(error)"])
                throw RPCError(code: .permissionDenied, message: error.description)
            } catch {
                throw RPCError(code: .aborted, message: "\(error)")
            }
            logger.debug("party stream closed", metadata: ["party": "\(partyID)"])
            return [:]
        }
    }

    func status(
        request: StreamingServerRequest<Fedshare_V1_StatusRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Fedshare_V1_StatusReply> {
        _ = try authenticate(context)
        let reply = await statusProvider()
        return StreamingServerResponse { writer in
            try await writer.write(reply)
            return [:]
        }
    }
}

extension FederationService {
    func publishCatalog(
        request: StreamingServerRequest<Fedshare_V1_PublishCatalogRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Fedshare_V1_PublishCatalogReply> {
        try await answerCatalog(request, context, action: "publish catalogs") { directory, message, party in
            try directory.publish(message, from: party)
        }
    }

    func queryCatalog(
        request: StreamingServerRequest<Fedshare_V1_QueryCatalogRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Fedshare_V1_QueryCatalogReply> {
        try await answerCatalog(request, context, action: "query the catalog directory") { directory, message, party in
            try directory.query(message, from: party)
        }
    }

    /// A catalog call: the peer must be a party (its certificate, checked by TLS and again
    /// here); the directory checks the signed message and answers. A refusal travels back as
    /// `PERMISSION_DENIED` with the directory's one-line reason.
    private func answerCatalog<Request: Sendable, Reply: SwiftProtobuf.Message>(
        _ request: StreamingServerRequest<Request>, _ context: ServerContext, action: String,
        _ answer: @escaping @Sendable (FederationDirectory, Request, Int) throws -> Reply
    ) async throws -> StreamingServerResponse<Reply> {
        let identity = try authenticate(context)
        guard case .party(let party) = identity.role else {
            logger.warning("refused a catalog call", metadata: ["peer": "\(context.remotePeer)", "role": "\(identity.role)"])
            throw RPCError(code: .permissionDenied, message: Self.notAParty(identity.role, action: action))
        }
        guard let directory else {
            throw RPCError(code: .unimplemented, message: "this aggregator keeps no catalog directory")
        }
        let message = try await ServerRequest(stream: request).message
        let reply: Reply
        do { reply = try answer(directory, message, party) } catch let error as FederationError {
            throw RPCError(code: .permissionDenied, message: error.description)
        }
        guard (try reply.serializedBytes() as [UInt8]).count <= limits.maxMessageBytes else {
            throw RPCError(code: .permissionDenied, message: "the answer exceeds the \(limits.maxMessageBytes)-byte message limit; ask with a smaller --limit")
        }
        return StreamingServerResponse { writer in
            try await writer.write(reply)
            return [:]
        }
    }
}

extension FederationService {
    /// An analyst's request: the peer must be an analyst of this federation (by its
    /// certificate, never by what the request says); the handler checks the signed request and
    /// runs the round. A refusal travels back as `PERMISSION_DENIED` (not an analyst, a bad
    /// request) or `RESOURCE_EXHAUSTED` (a cap), with one line saying why.
    func request(
        request: StreamingServerRequest<Fedshare_V1_SignedRoundRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Fedshare_V1_RequestReply> {
        let identity = try authenticate(context)
        guard case .analyst(let analyst) = identity.role else {
            logger.warning("refused a request", metadata: ["peer": "\(context.remotePeer)", "role": "\(identity.role)"])
            throw RPCError(code: .permissionDenied, message: "only analysts may request rounds; this certificate belongs to \(identity.role)")
        }
        guard let requests else {
            throw RPCError(code: .unimplemented, message: "this aggregator does not serve requests (start it with fedshare aggregator --serve)")
        }
        let message = try await ServerRequest(stream: request).message
        let reply: Fedshare_V1_RequestReply
        do { reply = try await requests(Wire.SignedRoundRequest(message), analyst) } catch let error as FederationError {
            logger.warning("refused a request", metadata: ["analyst": "\(analyst)", "reason": "\(error)"])
            throw RPCError(code: .permissionDenied, message: error.description)
        }
        return StreamingServerResponse { writer in
            try await writer.write(reply)
            return [:]
        }
    }
}

struct DeadlineExceeded: Error {}

/// Runs `body`, throwing ``DeadlineExceeded`` if it has not finished within `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded() }
        return value
    }
}
