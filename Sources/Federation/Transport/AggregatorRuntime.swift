import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import GRPCCore
import Logging
import Paillier
import Primitives
import SwiftProtobuf

/// Runs the aggregator's round engine (``AggregatorRound``) over the gRPC transport: each
/// admitted party stream feeds the engine, the engine's replies go to each party's outbox, and
/// a ticker enforces the per-phase deadlines. The engine itself never sees a socket.
public actor AggregatorRuntime {
    /// Per-phase deadlines and round options.
    public struct Options: Sendable {
        /// How long the join phase waits for every invited party to say hello.
        public var joinDeadline: Duration = .seconds(120)
        /// How long every later phase waits for silent parties.
        public var phaseDeadline: Duration = .seconds(120)
        /// Simulations only: no noise (recorded in the result).
        public var noNoise = false
        /// Overrides the manifest's threshold (simulations).
        public var threshold: Int?
        /// Who is asked for partial decryptions (Paillier mode).
        public var committee: DecryptionCommittee = .threshold
        /// Rounds run for analysts' requests (``runRequestedRound()``): parties connected
        /// between rounds are held until the next one opens, however long that takes.
        public var serving = false
        /// Fault tests: called when a round enters a phase (its state already persisted), and
        /// with `join` when the first party joins.
        public var onPhase: (@Sendable (RoundPhase) -> Void)?
        /// Hostile-aggregator tests only: what leaves for each party passes through here and may
        /// be replaced, duplicated or swallowed (the parties must refuse every deviation).
        public var tamper: (@Sendable (_ party: Int, _ envelope: Fedshare_V1_AggregatorEnvelope) -> [Fedshare_V1_AggregatorEnvelope])?
        public init() {}
    }

    /// How a round went.
    public struct Report: Sendable {
        public let round: UInt64
        public let outcome: RoundOutcome
        public let plan: RoundPlan
        /// The analyst's request the round answered (nil: a round over every record).
        public var request: RoundRequest?
        /// Every invited party left out, with the phase and why (declines included).
        public var dropped: [DroppedParty] = []
        /// Seconds spent in each phase, in order.
        public let phaseSeconds: [(phase: RoundPhase, seconds: Double)]
        /// Serialised bytes each party sent to / received from the aggregator.
        public let bytesSent: [Int: Int]
        public let bytesReceived: [Int: Int]

        public var result: RoundResult? {
            if case .released(let result) = outcome { return result }
            return nil
        }
    }

    private let kit: FederationKit
    private let bookkeeper: RoundBookkeeper
    private var store: RoundStore? { bookkeeper.store }
    private let options: Options
    private let logger: Logger
    private let plan: RoundPlan

    private var engine: AggregatorRound?
    private var outboxes: [Int: AsyncStream<Fedshare_V1_AggregatorEnvelope>.Continuation] = [:]
    private var phaseStart = ContinuousClock.now
    /// When the current deadline window opened: the phase's start, a passed deadline, or the
    /// engine's last request to decrypt.
    private var windowStart = ContinuousClock.now
    private var decryptRequests = 0
    private var phaseSeconds: [(phase: RoundPhase, seconds: Double)] = []
    private var lastPhase: RoundPhase = .join
    private var finished: CheckedContinuation<Void, Never>?
    private var bytesSent: [Int: Int] = [:]
    private var bytesReceived: [Int: Int] = [:]
    private var lastReport: Report?
    private var closed = false
    /// Parties whose streams wait for the next round to open, each with its newest stream's
    /// number: a party that reconnects (restarted after a crash) supersedes the stream it left.
    private var waiting: [Int: Int] = [:]
    private var streamsOpened = 0
    /// Analysts' requests waiting for their round, in arrival order.
    private var queue: [QueuedRequest] = []
    private var queueWaiter: CheckedContinuation<Void, Never>?
    /// Every request accepted so far (one round per request: a replay is refused).
    private var acceptedRequests = Set<[UInt8]>()

    private struct QueuedRequest {
        let request: RoundRequest
        let signed: Wire.SignedRoundRequest
        let continuation: CheckedContinuation<Report, any Error>
    }

    /// - Parameters:
    ///   - kit: the aggregator's kit (manifest and, in Paillier mode, the threshold public key).
    ///   - ledger: the federation ledger.
    ///   - store: durable round state (nil: none).
    public init(
        kit: FederationKit, ledger: PrivacyLedger, store: RoundStore?, options: Options = Options(),
        logger: Logger = Logger(label: "fedshare.aggregator")
    ) throws {
        self.kit = kit
        self.bookkeeper = RoundBookkeeper(ledger: ledger, store: store)
        self.options = options
        self.logger = logger
        self.plan = try RoundPlan(manifest: kit.manifest, threshold: options.threshold)
    }

    /// The session handler to give ``AggregatorServer``.
    public nonisolated var sessionHandler: AggregatorServer.SessionHandler {
        { [weak self] stream in
            guard let self else { return }
            try await self.serve(stream)
        }
    }

    /// The status provider to give ``AggregatorServer``.
    public nonisolated var statusProvider: AggregatorServer.StatusProvider {
        { [weak self] in
            guard let self else { return Fedshare_V1_StatusReply() }
            return await self.status()
        }
    }

    /// The request handler to give ``AggregatorServer`` (when serving requests).
    public nonisolated var requestHandler: AggregatorServer.RequestHandler {
        { [weak self] signed, analyst in
            guard let self else { throw FederationError.requestRefused("the aggregator is stopping") }
            return try await self.submit(signed, analyst: analyst).reply
        }
    }

    /// Queues an analyst's request and waits for its round. The request is checked first, and
    /// refused before any party hears of it: a request not signed by `analyst` (the one its
    /// certificate proves), not for this federation, stale, already answered, or beyond the
    /// analyst's or the federation's cap.
    /// - Throws: ``FederationError/requestRefused(_:)``.
    public func submit(_ signed: Wire.SignedRoundRequest, analyst: String) async throws -> Report {
        guard options.serving, !closed else {
            throw FederationError.requestRefused("this aggregator does not serve requests now (fedshare aggregator --serve)")
        }
        let request = try RoundRequest.verified(signed, verifier: PeerVerifier(authority: kit.authority), manifestHash: plan.manifestHash)
        guard request.analyst == analyst else {
            throw FederationError.requestRefused("the request names analyst \(request.analyst) but came with analyst \(analyst)'s certificate")
        }
        guard kit.manifest.analysts.names.contains(analyst) else {
            throw FederationError.requestRefused("analyst \(analyst) is not among the manifest's analysts \(kit.manifest.analysts.names)")
        }
        guard !acceptedRequests.contains(request.nonce) else {
            throw FederationError.requestRefused("request \(request.id) of analyst \(analyst) was already answered (a replay)")
        }
        do {
            try bookkeeper.checkAdmissible(
                plan.charge(party: "aggregator", round: 0, analyst: analyst), cap: plan.ledgerCap, analystCap: kit.manifest.analysts.cap)
        } catch let error as FederationError {
            throw error
        } catch {
            throw FederationError.requestRefused("the federation ledger cannot check analyst \(analyst)'s request: \(error)")
        }
        acceptedRequests.insert(request.nonce)
        logger.info("request queued", metadata: ["analyst": "\(analyst)", "request": "\(request.id)", "waiting": "\(queue.count)"])
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(QueuedRequest(request: request, signed: signed, continuation: continuation))
            queueWaiter?.resume()
            queueWaiter = nil
        }
    }

    /// Waits for the next analyst's request, runs its round and answers the analyst; nil once
    /// ``close()`` was called (requests still queued are refused).
    public func runRequestedRound() async throws -> Report? {
        while queue.isEmpty, !closed { await withCheckedContinuation { queueWaiter = $0 } }
        guard !closed else { return nil }
        let next = queue.removeFirst()
        do {
            let report = try await runRound(request: (next.request, next.signed))
            next.continuation.resume(returning: report)
            return report
        } catch {
            next.continuation.resume(throwing: error)
            throw error
        }
    }

    /// Runs one round to its end (released or aborted) with the parties that connect.
    public func runRound() async throws -> Report { try await runRound(request: nil) }

    private func runRound(request: (verified: RoundRequest, signed: Wire.SignedRoundRequest)?) async throws -> Report {
        // Without a store, seconds since 1970, but never a round ID this runtime already used
        // (two rounds in one second would otherwise share one, and the parties refuse the second).
        let roundID = try store?.nextRoundID() ?? max(UInt64(Date().timeIntervalSince1970), (lastReport?.round ?? 0) + 1)
        var random = SecureRandom()
        var deadlines: [RoundPhase: UInt64] = [:]
        for phase in RoundPhase.allCases {
            deadlines[phase] = UInt64(Self.milliseconds(phase == .join ? options.joinDeadline : options.phaseDeadline))
        }
        let round = try AggregatorRound(
            plan: plan, round: roundID, parties: kit.manifest.parties, key: kit.thresholdPublicKey,
            verifier: PeerVerifier(authority: kit.authority), deadlines: deadlines, noNoise: options.noNoise,
            committee: options.committee, request: request, using: &random)
        try store?.save(round.stateRecord)
        engine = round
        phaseStart = .now
        windowStart = phaseStart
        decryptRequests = 0
        lastPhase = .join
        phaseSeconds = []
        bytesSent = [:]
        bytesReceived = [:]
        logger.info("round open for joins", metadata: ["round": "\(roundID)", "parties": "\(kit.manifest.parties)"])
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                await self?.checkDeadline()
            }
        }
        defer { ticker.cancel() }
        if engine?.outcome == nil {
            await withCheckedContinuation { continuation in finished = continuation }
        }
        guard let engine, let outcome = engine.outcome else { throw FederationError.internalState("the round did not finish") }
        let report = Report(
            round: roundID, outcome: outcome, plan: plan, request: request?.verified,
            dropped: engine.dropped.values.sorted { $0.party < $1.party }, phaseSeconds: phaseSeconds,
            bytesSent: bytesSent, bytesReceived: bytesReceived)
        lastReport = report
        return report
    }

    /// Tells the engine that `party` will not connect (simulations of a party dead before it joins).
    public func partyLeft(_ party: Int, reason: String) {
        step { $0.partyLeft(party, reason: reason) }
    }

    // MARK: Streams

    /// Stops admitting parties and requests (the aggregator is about to exit): a party waiting
    /// for the next round is told to try again later (it reconnects on its own), and requests
    /// still queued are refused.
    public func close() {
        closed = true
        for queued in queue {
            queued.continuation.resume(throwing: FederationError.requestRefused("the aggregator stopped before request \(queued.request.id)'s round"))
        }
        queue = []
        queueWaiter?.resume()
        queueWaiter = nil
    }

    private var roundIsOpen: Bool { engine != nil && engine?.outcome == nil }

    private func serve(_ stream: PartyStream) async throws {
        let party = stream.partyID
        // A party that arrives between rounds (or while a restarted aggregator starts its first
        // round) waits for the next round instead of being refused: refusing would end a party
        // that is reconnecting on its own.
        let clock = ContinuousClock()
        let giveUp = clock.now + options.joinDeadline
        streamsOpened += 1
        let generation = streamsOpened
        waiting[party] = generation
        defer { if waiting[party] == generation { waiting[party] = nil } }
        while true {
            guard waiting[party] == generation else {
                throw RPCError(code: .unavailable, message: "superseded by a newer connection of party \(party)")
            }
            if roundIsOpen { break }
            guard !closed, !Task.isCancelled, options.serving || clock.now < giveUp else {
                throw RPCError(code: .unavailable, message: "no round is open for joins; try again later")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let (outbox, continuation) = AsyncStream<Fedshare_V1_AggregatorEnvelope>.makeStream()
        let round = try register(party, continuation: continuation, hello: stream.hello)
        let reader = Task { await self.read(stream, from: party, round: round) }
        defer { reader.cancel() }
        do {
            for await envelope in outbox { try await stream.send(envelope) }
        } catch {
            reader.cancel()
            await reader.value
            throw error
        }
        // The outbox is finished: the party was cut off (it gets nothing more, and a dead link
        // must not keep its stream, and so a graceful shutdown, waiting), or the round ended
        // (the party gets a moment to acknowledge and hang up).
        if isDropped(party) {
            reader.cancel()
        } else {
            let grace = Task {
                try? await Task.sleep(for: .seconds(5))
                reader.cancel()
            }
            await reader.value
            grace.cancel()
        }
        await reader.value
        if let cut = cutOff(party) {
            logger.warning("cut off a party", metadata: ["party": "\(party)", "reason": "\(cut)"])
            throw FederationError.peerViolation(party: party, reason: "cut off: \(cut)")
        }
    }

    /// Feeds the party's messages to the engine of the round the stream joined. A party the
    /// engine cut off is hung up on at once: nothing more is read from it (a dropped peer cannot
    /// keep the aggregator parsing). Once the next round has started, what a stream of the last
    /// one sends or how it ends (a late acknowledgement, a hang-up) is not the new round's.
    private func read(_ stream: PartyStream, from party: Int, round: UInt64) async {
        if cutOff(party) != nil { return }  // its hello alone can get it dropped
        do {
            for try await envelope in stream.messages {
                guard engine?.round == round else { continue }
                receive(envelope, from: party)
                if cutOff(party) != nil { return }
            }
            left(party, reason: "its stream ended", round: round)
        } catch {
            left(party, reason: Self.streamFailure(error, limit: stream.maxMessageBytes), round: round)
        }
    }

    private func isDropped(_ party: Int) -> Bool {
        engine?.dropped[party] != nil
    }

    /// Why the current round dropped `party`, if it did.
    private func cutOff(_ party: Int) -> String? {
        guard let engine, let dropped = engine.dropped[party] else { return nil }
        return "round \(engine.round), phase \(dropped.phase.rawValue): \(dropped.reason)"
    }

    /// The reason a party's stream failed, as the round records it. gRPC refuses a message
    /// whose length prefix exceeds the limit before reading its body (and reports only that
    /// the message could not be decoded).
    static func streamFailure(_ error: any Error, limit: Int) -> String {
        let text = TransportDiagnosis.text(of: error)
        if text.contains("Failed to decode message") || text.contains("maximum payload size") {
            return
                "its stream was cut: it sent a message larger than the \(limit)-byte limit (refused from the gRPC length prefix, before the message was buffered) or a message that cannot be decoded"
        }
        return "its stream failed: \(text)"
    }

    /// Admits `party` to the open round and returns the round's id.
    private func register(
        _ party: Int, continuation: AsyncStream<Fedshare_V1_AggregatorEnvelope>.Continuation,
        hello: Fedshare_V1_PartyEnvelope
    ) throws -> UInt64 {
        guard roundIsOpen, let round = engine?.round else {
            continuation.finish()
            throw RPCError(code: .unavailable, message: "no round is open for joins; try again later")
        }
        guard outboxes[party] == nil else {
            continuation.finish()
            throw FederationError.peerViolation(party: party, reason: "already connected on another stream")
        }
        outboxes[party] = continuation
        logger.info("party joined", metadata: ["party": "\(party)"])
        receive(hello, from: party)
        if outboxes.count == 1, engine?.phase == .join { options.onPhase?(.join) }
        return round
    }

    private func receive(_ envelope: Fedshare_V1_PartyEnvelope, from party: Int) {
        bytesSent[party, default: 0] += envelope.serializedSizeEstimate
        step { $0.receive(Wire.PartyEnvelope(envelope), from: party) }
    }

    /// `party`'s stream of round `round` ended (nil: whichever stream it has now).
    private func left(_ party: Int, reason: String, round: UInt64? = nil) {
        if let round, engine?.round != round { return }
        if let engine, engine.outcome == nil {
            logger.info("party left", metadata: ["party": "\(party)", "reason": "\(reason)"])
            step { $0.partyLeft(party, reason: reason) }
        }
        outboxes.removeValue(forKey: party)?.finish()
    }

    private func checkDeadline() {
        guard let engine, engine.outcome == nil else { return }
        let limit = engine.phase == .join ? options.joinDeadline : options.phaseDeadline
        guard ContinuousClock.now - windowStart > limit else { return }
        logger.warning("phase deadline passed", metadata: ["phase": "\(engine.phase.rawValue)", "waiting_for": "\(engine.waitingFor)"])
        windowStart = .now
        step { $0.deadlinePassed() }
    }

    /// Feeds the engine one input, has the bookkeeper perform the ledger and round-store writes
    /// it asks for, and sends the messages that may leave.
    private func step(_ input: (inout AggregatorRound) -> [AggregatorEffect]) {
        guard var engine else { return }
        var random = SecureRandom()
        let messages = bookkeeper.perform(input(&engine), on: &engine, using: &random)
        self.engine = engine
        deliver(messages)
    }

    private func deliver(_ messages: [OutgoingMessage]) {
        for message in messages {
            let wire = Fedshare_V1_AggregatorEnvelope(message.envelope)
            for envelope in options.tamper.map({ $0(message.party, wire) }) ?? [wire] {
                bytesReceived[message.party, default: 0] += envelope.serializedSizeEstimate
                outboxes[message.party]?.yield(envelope)
            }
        }
        guard let engine else { return }
        if engine.phase != lastPhase {
            let now = ContinuousClock.now
            phaseSeconds.append((phase: lastPhase, seconds: Self.seconds(now - phaseStart)))
            logger.info("phase", metadata: ["from": "\(lastPhase.rawValue)", "to": "\(engine.phase.rawValue)"])
            phaseStart = now
            windowStart = now
            lastPhase = engine.phase
            options.onPhase?(engine.phase)
        }
        if engine.decryptRequests != decryptRequests {
            decryptRequests = engine.decryptRequests
            windowStart = .now
        }
        // Parties the engine dropped get no more messages.
        for party in engine.dropped.keys { outboxes.removeValue(forKey: party)?.finish() }
        if engine.outcome != nil {
            if phaseSeconds.last?.phase != lastPhase {
                phaseSeconds.append((phase: lastPhase, seconds: Self.seconds(.now - phaseStart)))
            }
            for continuation in outboxes.values { continuation.finish() }
            outboxes = [:]
            finished?.resume()
            finished = nil
        }
    }

    // MARK: Status

    func status() -> Fedshare_V1_StatusReply {
        var reply = Fedshare_V1_StatusReply()
        reply.protocolVersion = WireProtocol.version
        reply.federation = kit.manifest.name
        reply.manifestHash = Data(kit.manifest.digest)
        reply.mode = plan.mode == .paillier ? .paillier : .secagg
        reply.connected = Set(outboxes.keys).union(waiting.keys).sorted().map { UInt32($0) }
        if let engine, engine.outcome == nil {
            reply.currentRound = engine.round
            reply.phase = .init(engine.phase.wire)
            reply.waitingFor = engine.waitingFor.map { UInt32($0) }
        }
        if let report = lastReport {
            reply.last = .with { last in
                last.roundID = report.round
                switch report.outcome {
                case .released(let result):
                    last.released = true
                    last.contributors = result.contributors.map { UInt32($0) }
                    last.dropped = result.dropped.map { dropped in
                        .with {
                            $0.party = UInt32(dropped.party)
                            $0.phase = .init(dropped.phase.wire)
                            $0.reason = dropped.reason
                        }
                    }
                    last.ledgerEntryID = result.ledgerEntryID
                case .aborted(_, let reason, _), .refused(let reason):
                    last.abortReason = reason
                }
            }
        }
        return reply
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

extension AggregatorRuntime.Report {
    /// The answer to the analyst whose request this round answered.
    var reply: Fedshare_V1_RequestReply {
        var reply = Fedshare_V1_RequestReply()
        reply.roundID = round
        switch outcome {
        case .released(let result):
            reply.header = Fedshare_V1_ResultHeader(result.header(cost: plan.cost))
            reply.values = result.sums
        case .aborted(let phase, let reason, let missing):
            reply.aborted = .with {
                $0.phase = .init(phase.wire)
                $0.reason = String(reason.prefix(2000))
                $0.missingParties = missing.map { UInt32($0) }
            }
        case .refused(let reason):
            reply.aborted = .with {
                $0.phase = .join
                $0.reason = reason
            }
        }
        reply.dropped = dropped.map { Fedshare_V1_DroppedParty($0.wire) }
        return reply
    }
}

extension RoundPhase {
    /// The phase a Status reply names (the Status RPC keeps its protobuf types).
    public init(wire: Fedshare_V1_Phase) { self.init(wire: Wire.Phase(wire)) }
}
