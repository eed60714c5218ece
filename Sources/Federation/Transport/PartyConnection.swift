import FederationProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SwiftProtobuf
import Synchronization
import X509

/// How a party retries reaching the aggregator: exponential backoff with jitter, until a total
/// time is spent.
public struct RetryPolicy: Sendable, Equatable {
    public var initialDelay: Duration
    public var multiplier: Double
    public var maximumDelay: Duration
    /// Give up when the next attempt would start after this much time since the first.
    public var giveUpAfter: Duration

    public init(
        initialDelay: Duration = .milliseconds(250), multiplier: Double = 2, maximumDelay: Duration = .seconds(5),
        giveUpAfter: Duration = .seconds(60)
    ) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maximumDelay = maximumDelay
        self.giveUpAfter = giveUpAfter
    }

    public static let `default` = RetryPolicy()
    /// One attempt only.
    public static let never = RetryPolicy(giveUpAfter: .zero)

    /// The delay before attempt `attempt + 1` (attempt counts from 1), with ±20 % jitter.
    func delay(after attempt: Int) -> Duration {
        var seconds = Double(initialDelay.components.seconds) + Double(initialDelay.components.attoseconds) * 1e-18
        let cap = Double(maximumDelay.components.seconds) + Double(maximumDelay.components.attoseconds) * 1e-18
        for _ in 1..<max(attempt, 1) { seconds = min(cap, seconds * multiplier) }
        seconds *= Double.random(in: 0.8...1.2)
        return .milliseconds(Int64(seconds * 1000))
    }
}

/// The aggregator's side of one `Round` stream, as a party sees it.
public struct AggregatorStream: Sendable {
    /// The aggregator's messages, in order. Iterating throws ``FederationError`` when the
    /// aggregator refuses the party or the connection fails.
    public let messages: AggregatorMessages
    let writer: RPCWriter<Fedshare_V1_PartyEnvelope>
    let maxMessageBytes: Int

    /// Sends one envelope to the aggregator.
    /// - Throws: ``FederationError/peerViolation(party:reason:)`` for a message above the size
    ///   limit (the aggregator would cut the stream), or `RPCError` when the stream is closed.
    public func send(_ envelope: Fedshare_V1_PartyEnvelope) async throws {
        try checkSize(envelope, limit: maxMessageBytes, party: Int(envelope.partyID))
        try await writer.write(envelope)
    }
}

/// The aggregator's messages on one stream.
public struct AggregatorMessages: AsyncSequence, Sendable {
    public typealias Element = Fedshare_V1_AggregatorEnvelope
    let source: RPCAsyncSequence<Fedshare_V1_AggregatorEnvelope, any Error>
    let address: String
    let received: ReceivedFlag
    /// This party's certificate (to name an expired or not-yet-valid one in a refusal).
    var certificate: Certificate?

    public struct AsyncIterator: AsyncIteratorProtocol {
        var iterator: RPCAsyncSequence<Fedshare_V1_AggregatorEnvelope, any Error>.AsyncIterator
        let address: String
        let received: ReceivedFlag
        let certificate: Certificate?

        public mutating func next() async throws -> Fedshare_V1_AggregatorEnvelope? {
            do {
                let envelope = try await iterator.next()
                if envelope != nil { received.set() }
                return envelope
            } catch {
                throw TransportDiagnosis.classify(error, address: address, attempts: 1, seconds: 0, connected: true, certificate: certificate)
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(iterator: source.makeAsyncIterator(), address: address, received: received, certificate: certificate)
    }
}

/// What one attempt got to: a stream opened on an established connection, and whether any
/// message arrived (a failure before either is worth a retry).
final class ReceivedFlag: Sendable {
    private let value = Mutex(false)
    private let stream = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
    func setConnected() { stream.withLock { $0 = true } }
    var connected: Bool { stream.withLock { $0 } }
}

/// A party's side of the transport: dials the aggregator over HTTP/2 with mutual TLS (this
/// kit's certificate; the aggregator's must chain to the federation CA and name the dialled
/// host), retrying with backoff while the aggregator is unreachable.
public struct PartyConnection: Sendable {
    public let kit: FederationKit
    /// The aggregator's address (the manifest's, unless overridden).
    public let address: HostPort
    public let limits: TransportLimits
    public let retry: RetryPolicy
    let logger: Logger

    /// - Parameters:
    ///   - aggregator: overrides the manifest's aggregator address.
    /// - Throws: ``FederationError/invalidAddress(field:value:)``.
    public init(
        kit: FederationKit, aggregator: HostPort? = nil, limits: TransportLimits = .default,
        retry: RetryPolicy = .default, logger: Logger = Logger(label: "fedshare.transport")
    ) throws {
        self.kit = kit
        self.address = try aggregator ?? HostPort(parsing: kit.manifest.aggregator, field: "manifest federation.aggregator")
        self.limits = limits
        self.retry = retry
        self.logger = logger
    }

    private var callOptions: CallOptions {
        var options = CallOptions.defaults
        options.waitForReady = false
        options.maxRequestMessageBytes = limits.maxMessageBytes
        options.maxResponseMessageBytes = limits.maxMessageBytes
        return options
    }

    private func makeTransport() throws -> HTTP2ClientTransport.Posix {
        do {
            return try HTTP2ClientTransport.Posix(
                target: address.target, transportSecurity: kit.clientTransportSecurity,
                config: .defaults { config in
                    config.backoff = .init(initial: .milliseconds(100), max: .seconds(1), multiplier: 1.6, jitter: 0.2)
                    // A dead link (cut network, vanished aggregator) is noticed within about
                    // 15 s instead of TCP's minutes, so the party reconnects on its own.
                    config.connection.keepalive = .init(time: .seconds(10), timeout: .seconds(5), allowWithoutCalls: false)
                })
        } catch {
            throw FederationError.streamFailed(address: address.description, reason: TransportDiagnosis.text(of: error))
        }
    }

    /// Opens a `Round` stream, sends `hello` first, and runs `body` with the stream; the
    /// stream closes when `body` returns.
    ///
    /// While the aggregator cannot be reached (nothing received yet), the whole attempt is
    /// repeated with exponential backoff until ``RetryPolicy/giveUpAfter``. A refusal (TLS
    /// alert, identity mismatch) is not retried.
    ///
    /// - Parameter hello: the first envelope; its `party_id` is set to the kit's party id when 0.
    /// - Throws: ``FederationError`` (unreachable, refused, untrusted aggregator, stream failure),
    ///   or what `body` throws.
    public func round<Result: Sendable>(
        hello: Fedshare_V1_PartyEnvelope,
        _ body: @escaping @Sendable (AggregatorStream) async throws -> Result
    ) async throws -> Result {
        var hello = hello
        if hello.partyID == 0, let id = kit.partyID { hello.partyID = UInt32(id) }
        let first = hello
        return try await withRetries { received in
            let transport = try makeTransport()
            return try await withGRPCClient(transport: transport) { grpc in
                let client = Fedshare_V1_Federation.Client(wrapping: grpc)
                let (writers, writerContinuation) = AsyncStream<RPCWriter<Fedshare_V1_PartyEnvelope>>.makeStream()
                let (finished, finishedContinuation) = AsyncStream<Void>.makeStream()
                let limit = limits.maxMessageBytes
                let request = StreamingClientRequest<Fedshare_V1_PartyEnvelope> { writer in
                    received.setConnected()
                    try await writer.write(first)
                    writerContinuation.yield(writer)
                    writerContinuation.finish()
                    // Keep the request side open until the body is done.
                    for await _ in finished {}
                }
                let address = self.address.description
                return try await client.round(request: request, options: callOptions) { response in
                    defer { finishedContinuation.finish() }
                    var iterator = writers.makeAsyncIterator()
                    guard let writer = await iterator.next() else {
                        throw FederationError.streamFailed(address: address, reason: "the stream closed before the hello was sent")
                    }
                    let messages = AggregatorMessages(
                        source: response.messages, address: address, received: received,
                        certificate: kit.certificate)
                    return try await body(AggregatorStream(messages: messages, writer: writer, maxMessageBytes: limit))
                }
            }
        }
    }

    /// Asks the aggregator for its status (`fedshare status`).
    /// - Throws: ``FederationError``.
    public func status() async throws -> Fedshare_V1_StatusReply {
        try await withRetries { received in
            let transport = try makeTransport()
            return try await withGRPCClient(transport: transport) { grpc in
                let client = Fedshare_V1_Federation.Client(wrapping: grpc)
                let reply = try await client.status(Fedshare_V1_StatusRequest(), options: callOptions) { response in
                    received.setConnected()
                    return try response.message
                }
                received.set()
                return reply
            }
        }
    }

    /// Publishes this party's signed catalog to the aggregator's federation directory.
    /// - Throws: ``FederationError`` (`.refused` with the directory's reason when it refuses).
    public func publishCatalog(_ request: Fedshare_V1_PublishCatalogRequest) async throws -> Fedshare_V1_PublishCatalogReply {
        try checkSize(request, limit: limits.maxMessageBytes, party: kit.partyID)
        return try await unary(unimplemented: "it keeps no catalog directory") { client in
            try await client.publishCatalog(request, options: callOptions) { try $0.message }
        }
    }

    /// Asks the aggregator's federation directory (a signed query).
    /// - Throws: ``FederationError`` (`.refused` with the directory's reason when it refuses).
    public func queryCatalog(_ request: Fedshare_V1_QueryCatalogRequest) async throws -> Fedshare_V1_QueryCatalogReply {
        try await unary(unimplemented: "it keeps no catalog directory") { client in
            try await client.queryCatalog(request, options: callOptions) { try $0.message }
        }
    }

    /// An analyst's signed request: waits (up to `timeout`) for its round and returns the reply.
    /// - Throws: ``FederationError`` (`.refused` with the aggregator's one-line reason when it
    ///   refuses the request).
    public func request(_ request: Fedshare_V1_SignedRoundRequest, timeout: Duration) async throws -> Fedshare_V1_RequestReply {
        var waiting = callOptions
        waiting.timeout = timeout
        let options = waiting
        return try await unary(unimplemented: "it does not serve requests (start it with fedshare aggregator --serve)") { client in
            try await client.request(request, options: options) { try $0.message }
        }
    }

    /// One unary call, retried while the aggregator is unreachable; the aggregator's refusals
    /// (its one-line reasons) come back as ``FederationError/refused(address:reason:)``.
    private func unary<Reply: Sendable>(
        unimplemented: String,
        _ call: @escaping @Sendable (Fedshare_V1_Federation.Client<HTTP2ClientTransport.Posix>) async throws -> Reply
    ) async throws -> Reply {
        do {
            return try await withRetries { received in
                let transport = try makeTransport()
                return try await withGRPCClient(transport: transport) { grpc in
                    let reply = try await call(Fedshare_V1_Federation.Client(wrapping: grpc))
                    received.set()
                    return reply
                }
            }
        } catch FederationError.streamFailed(_, let reason) where reason.hasPrefix("unimplemented") {
            throw FederationError.refused(address: address.description, reason: unimplemented)
        }
    }

    /// Runs `attempt` until it succeeds, fails after receiving something, fails for a reason
    /// other than unreachability, or the retry time is spent.
    private func withRetries<Result: Sendable>(
        _ attempt: (ReceivedFlag) async throws -> Result
    ) async throws -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        var attempts = 0
        while true {
            attempts += 1
            let received = ReceivedFlag()
            do {
                return try await attempt(received)
            } catch {
                let elapsed = clock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                let diagnosed = TransportDiagnosis.classify(
                    error, address: address.description, attempts: attempts, seconds: seconds, connected: received.connected,
                    certificate: kit.certificate)
                guard case .unreachable = diagnosed, !received.isSet, !Task.isCancelled else { throw diagnosed }
                let delay = retry.delay(after: attempts)
                if elapsed + delay > retry.giveUpAfter { throw diagnosed }
                logger.info(
                    "aggregator unreachable; retrying",
                    metadata: [
                        "address": "\(address)", "attempt": "\(attempts)",
                        "retry_in_ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
                    ])
                try await Task.sleep(for: delay)
            }
        }
    }
}

/// Refuses to send a message the receiver would refuse (it would cut the stream without saying why).
func checkSize(_ message: some SwiftProtobuf.Message, limit: Int, party: Int?) throws {
    let size = try message.serializedBytes() as [UInt8]
    guard size.count <= limit else {
        throw FederationError.peerViolation(party: party, reason: "a message of \(size.count) bytes exceeds the \(limit)-byte limit (chunk it)")
    }
}
