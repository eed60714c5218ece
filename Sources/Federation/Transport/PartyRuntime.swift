import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import GRPCCore
import Logging
import Paillier
import Primitives
import SwiftProtobuf

/// Runs one party's round engine (``PartyRound``) over a ``PartyConnection``.
public enum PartyRuntime {
    /// A step the party reports (for a progress display).
    public enum Progress: Sendable {
        case connecting(String)
        case phase(RoundPhase)
        /// The stream broke before the round ended for this party; its ledger was settled as
        /// said and it dials again for the next round.
        case reconnecting(reason: String, settlement: PartyRound.LossSettlement)
        /// An aggregator message arrived while the party is in this phase, before it is
        /// handled (fault tests stop the party here).
        case received(RoundPhase)
        /// A long step advanced (at most once per percent; from a worker thread).
        case working(PartyRound.Work, done: Int, total: Int)
    }

    /// How one attempt (one stream) ended.
    enum Attempt: Sendable {
        case ended(RoundOutcome)
        /// The stream broke or closed before the round ended for this party.
        case lost(reason: String, engine: PartyRound, error: FederationError?)
    }

    /// Whether a failure on an established stream means the connection was lost (worth
    /// reconnecting for the next round) rather than a refusal that would only repeat.
    static func isConnectionLoss(_ error: FederationError) -> Bool {
        switch error {
        case .streamFailed, .unreachable: return true
        default: return false
        }
    }

    /// Runs rounds until one ends for this party (released, aborted or refused) and returns
    /// how it ended.
    ///
    /// When the stream breaks before that (the aggregator vanished or restarted, the network
    /// was cut), the engine settles this party's ledger for the worst case
    /// (``PartyRound/connectionLost(reason:)``: committed once its contribution left,
    /// cancelled when nothing of its data left) and, up to `reconnects` times, the party dials
    /// again (with the connection's retry policy while the aggregator is unreachable) and
    /// takes part in the next round with a fresh engine.
    ///
    /// - Parameters:
    ///   - dropAt: simulations only: stop answering (hang up) when the engine would send its
    ///     first message of that phase, as if the machine died.
    ///   - reconnects: how many lost connections to survive (0: the first one ends the run).
    /// - Throws: ``FederationError`` when the aggregator cannot be reached or refuses the party,
    ///   or the connection is lost once more than `reconnects` allows, and for
    ///   engine configuration problems.
    public static func run(
        kit: FederationKit, connection: PartyConnection, contribution: AttentionResult, ledger: PrivacyLedger,
        threshold: Int? = nil, options: PartyRound.Options = .init(), dropAt: RoundPhase? = nil, reconnects: Int = 0,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> RoundOutcome {
        // Data that cannot be encoded fails here, before the party connects.
        try RoundPlan(manifest: kit.manifest, threshold: threshold).checkEncodable(contribution, parties: kit.manifest.parties.count)
        return try await run(
            kit: kit, connection: connection, source: .fixed(contribution), ledger: ledger, threshold: threshold, options: options,
            dropAt: dropAt, reconnects: reconnects, progress: progress)
    }

    /// Runs rounds as above, asking `source` for this party's contribution when each round
    /// opens (with the analyst's request it answers, if any).
    public static func run(
        kit: FederationKit, connection: PartyConnection, source: ContributionSource, ledger: PrivacyLedger,
        threshold: Int? = nil, options: PartyRound.Options = .init(), dropAt: RoundPhase? = nil, reconnects: Int = 0,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> RoundOutcome {
        guard let party = kit.partyID else {
            throw FederationError.configuration("\(kit.folder.path) is \(kit.role)'s kit; a party needs its own party-N/ kit")
        }
        let credentials = try kit.partyCredentials()
        var options = options
        if let progress {
            options.progress = { [previous = options.progress] work, done, total in
                previous?(work, done, total)
                progress(.working(work, done: done, total: total))
            }
        }
        let bookkeeper = RoundBookkeeper(ledger: ledger)
        var losses = 0
        while true {
            let engine = try PartyRound(
                party: party, manifest: kit.manifest, source: source, credentials: credentials, keyShare: kit.keyShare,
                publicKey: kit.thresholdPublicKey, threshold: threshold, options: options)
            progress?(.connecting(connection.address.description))
            let attempt: Attempt
            do {
                attempt = try await self.attempt(
                    engine: engine, bookkeeper: bookkeeper, connection: connection, dropAt: dropAt,
                    progress: progress)
            } catch let error as FederationError {
                // The stream failed before its first message (the aggregator died after the
                // hello); an aggregator still unreachable when the retry time is spent ends the run.
                guard case .streamFailed = error else { throw error }
                attempt = .lost(reason: error.description, engine: engine, error: error)
            }
            switch attempt {
            case .ended(let outcome):
                return outcome
            case .lost(let reason, var engine, let error):
                let settlement = bookkeeper.connectionLost(&engine, reason: reason)
                losses += 1
                guard losses <= reconnects, !Task.isCancelled else {
                    if let error { throw error }
                    return engine.outcome ?? .aborted(phase: engine.phase, reason: reason, missing: [])
                }
                progress?(.reconnecting(reason: reason, settlement: settlement))
                try await Task.sleep(for: connection.retry.delay(after: min(losses, 4)))
            }
        }
    }

    /// One stream: hello, then the engine's replies to every aggregator message.
    static func attempt(
        engine: PartyRound, bookkeeper: RoundBookkeeper, connection: PartyConnection, dropAt: RoundPhase?,
        progress: (@Sendable (Progress) -> Void)?
    ) async throws -> Attempt {
        let party = engine.party
        let mode = engine.plan.mode
        return try await connection.round(hello: Fedshare_V1_PartyEnvelope(engine.hello())) { stream in
            var engine = engine
            var random = SecureRandom()
            var phase = engine.phase
            progress?(.phase(phase))
            do {
                for try await envelope in stream.messages {
                    progress?(.received(engine.phase))
                    let replies = bookkeeper.perform(engine.receive(Wire.AggregatorEnvelope(envelope), using: &random), on: &engine, using: &random)
                    // A party that stops on an error tells the aggregator why (never a simulated drop).
                    if let dropAt,
                        replies.contains(where: { reply in
                            if case .error = reply.body { return false }
                            return RoundPhase(of: reply.body, mode: mode).isAtOrAfter(dropAt)
                        })
                    {
                        throw SimulatedDrop(party: party, phase: dropAt)
                    }
                    for reply in replies {
                        do {
                            try await stream.send(Fedshare_V1_PartyEnvelope(reply))
                        } catch {
                            // The round ended for this party (its result acknowledgement may
                            // meet a stream the aggregator already closed).
                            if let outcome = engine.outcome { return .ended(outcome) }
                            throw error
                        }
                    }
                    if engine.phase != phase {
                        phase = engine.phase
                        progress?(.phase(phase))
                    }
                    if let outcome = engine.outcome { return .ended(outcome) }
                }
            } catch let drop as SimulatedDrop {
                throw drop
            } catch {
                if let outcome = engine.outcome { return .ended(outcome) }
                let diagnosed = TransportDiagnosis.classify(
                    error, address: connection.address.description, attempts: 1, seconds: 0,
                    connected: true)
                guard isConnectionLoss(diagnosed) else {
                    // Refused mid-round (the aggregator cut this party off): no reconnecting, but
                    // the ledger is settled as for a lost connection, never left pending.
                    _ = bookkeeper.connectionLost(&engine, reason: diagnosed.description)
                    throw diagnosed
                }
                return .lost(reason: diagnosed.description, engine: engine, error: diagnosed)
            }
            if let outcome = engine.outcome { return .ended(outcome) }
            return .lost(reason: "the aggregator closed the stream in phase \(engine.phase.rawValue)", engine: engine, error: nil)
        }
    }
}

/// A simulated party stopped answering (`simulate --drop PARTY@PHASE`).
public struct SimulatedDrop: Error, CustomStringConvertible, Sendable {
    public let party: Int
    public let phase: RoundPhase
    public var description: String { "party \(party) stopped answering at \(phase.rawValue) (simulated)" }
}

extension Fedshare_V1_PartyEnvelope {
    var serializedSizeEstimate: Int { (try? serializedBytes() as [UInt8])?.count ?? 0 }
}

extension Fedshare_V1_AggregatorEnvelope {
    var serializedSizeEstimate: Int { (try? serializedBytes() as [UInt8])?.count ?? 0 }
}
