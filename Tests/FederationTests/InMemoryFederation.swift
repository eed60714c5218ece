import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Manifest
import Paillier
import SwiftProtobuf

@testable import Federation

/// A whole federation in one process: the aggregator engine and every party engine, with
/// envelopes serialized, size-checked and parsed as on the wire but passed in memory, and the
/// real cryptography: the engine tests' in-process transport (the product's is gRPC).
///
/// A party dropped at a phase stops answering there, as if its machine died: it sends nothing
/// from that phase on, and the aggregator is told its stream ended.
public struct InMemoryFederation: Sendable {
    /// One party: its engine inputs.
    public struct Party: Sendable {
        public let id: Int
        public let contribution: AttentionResult
        public let ledger: PrivacyLedger
        public let keyShare: ThresholdKeyShare?
        /// Where the party's contribution comes from when a round opens (default: `contribution`).
        public var source: ContributionSource?

        public init(id: Int, contribution: AttentionResult, ledger: PrivacyLedger, keyShare: ThresholdKeyShare? = nil) {
            self.id = id
            self.contribution = contribution
            self.ledger = ledger
            self.keyShare = keyShare
        }
    }

    /// What happened.
    public struct Report: Sendable {
        public let aggregator: RoundOutcome
        public let parties: [Int: RoundOutcome]
        /// Seconds spent in each aggregator phase, in order.
        public let phaseSeconds: [(phase: RoundPhase, seconds: Double)]
        /// Serialized bytes each party sent and received.
        public let bytesSent: [Int: Int]
        public let bytesReceived: [Int: Int]
        public let round: UInt64

        /// The released result, if any.
        public var result: RoundResult? {
            if case .released(let result) = aggregator { return result }
            return nil
        }
    }

    public let manifest: FederationManifest
    public let plan: RoundPlan
    public let parties: [Party]
    public let publicKey: ThresholdPublicKey?
    public let aggregatorLedger: PrivacyLedger
    public let store: RoundStore?
    public let drops: [Int: RoundPhase]
    public let noNoise: Bool
    public let threshold: Int?
    /// The federation's certificates: each party signs with its own, and checks the others'.
    public let pki: EphemeralFederationPKI
    /// Tests of hostile peers: sees every party envelope before it leaves and may replace it
    /// (return nil to swallow it).
    public var intercept: (@Sendable (_ party: Int, _ envelope: Fedshare_V1_PartyEnvelope) -> Fedshare_V1_PartyEnvelope?)?
    /// Tests of hostile peers: like ``intercept`` but may turn one envelope into several
    /// (duplicates, injected or replayed messages) or none. Applied after ``intercept``.
    public var rewrite: (@Sendable (_ party: Int, _ envelope: Fedshare_V1_PartyEnvelope) -> [Fedshare_V1_PartyEnvelope])?
    /// Tests of a hostile aggregator: sees every aggregator envelope before it reaches `party`
    /// and may turn it into several (injected, replayed, equivocated) or none.
    public var rewriteToParty: (@Sendable (_ party: Int, _ envelope: Fedshare_V1_AggregatorEnvelope) -> [Fedshare_V1_AggregatorEnvelope])?
    /// Hostile-aggregator tests: false runs the aggregator engine without checking the parties'
    /// signatures, as a deviating aggregator would (it then forwards whatever it got).
    public var aggregatorVerifies = true
    /// Who the aggregator asks for partial decryptions (Paillier mode).
    public var decryptionCommittee = DecryptionCommittee.threshold
    /// The analyst's request the round answers, as verified and as signed (nil: every record).
    public var request: (verified: RoundRequest, signed: Wire.SignedRoundRequest)?

    /// - Parameters:
    ///   - drops: party → the phase at which it stops answering (`join`, `advertise`, `share`,
    ///     `contribute`, `decrypt`, `unmask`).
    public init(
        manifest: FederationManifest, parties: [Party], publicKey: ThresholdPublicKey?, aggregatorLedger: PrivacyLedger,
        store: RoundStore? = nil, threshold: Int? = nil, drops: [Int: RoundPhase] = [:], noNoise: Bool = false,
        pki: EphemeralFederationPKI? = nil
    ) throws {
        let plan = try RoundPlan(manifest: manifest, threshold: threshold)
        for (party, phase) in drops {
            guard parties.contains(where: { $0.id == party }) else {
                throw FederationError.configuration("--drop names party \(party), which is not in the federation")
            }
            let valid: [RoundPhase] = plan.mode == .paillier ? [.join, .contribute, .decrypt] : [.join, .advertise, .share, .contribute, .check, .unmask]
            guard valid.contains(phase) else {
                throw FederationError.configuration(
                    "--drop \(party)@\(phase.rawValue): in \(plan.mode.rawValue) mode the phases are \(valid.map(\.rawValue).joined(separator: ", "))")
            }
        }
        self.manifest = manifest
        self.plan = plan
        self.parties = parties
        self.publicKey = publicKey
        self.aggregatorLedger = aggregatorLedger
        self.store = store
        self.drops = drops
        self.noNoise = noNoise
        self.threshold = threshold
        self.pki = try pki ?? EphemeralFederationPKI(federation: manifest.name, parties: parties.map(\.id))
    }

    /// Runs one round to its end.
    public func run(round: UInt64? = nil, using generator: inout some RandomNumberGenerator) throws -> Report {
        let roundID = try round ?? store?.nextRoundID() ?? 1
        var aggregator = try AggregatorRound(
            plan: plan, round: roundID, parties: parties.map(\.id), key: publicKey,
            verifier: aggregatorVerifies ? pki.verifier : nil,
            noNoise: noNoise, committee: decryptionCommittee, request: request, using: &generator)
        let aggregatorBooks = RoundBookkeeper(ledger: aggregatorLedger, store: store)
        try store?.save(aggregator.stateRecord)
        var engines: [Int: PartyRound] = [:]
        var books: [Int: RoundBookkeeper] = [:]
        for party in parties {
            engines[party.id] = try PartyRound(
                party: party.id, manifest: manifest, source: party.source ?? .fixed(party.contribution),
                credentials: try pki.credentials(party: party.id),
                keyShare: party.keyShare, publicKey: publicKey, threshold: threshold,
                options: .init(allowNoNoise: noNoise))
            books[party.id] = RoundBookkeeper(ledger: party.ledger)
        }
        var dead = Set<Int>()
        var sent: [Int: Int] = [:]
        var received: [Int: Int] = [:]
        var toAggregator: [(Int, [UInt8])] = []
        var toParties: [(Int, [UInt8])] = []
        var phaseSeconds: [(phase: RoundPhase, seconds: Double)] = []
        var idleDeadlines = 0
        var phaseStart = ContinuousClock.now
        var lastPhase = aggregator.phase

        func send(_ party: Int, _ messages: [Wire.PartyEnvelope]) throws {
            for message in messages {
                guard !dead.contains(party) else { return }
                if let stop = drops[party], RoundPhase(of: message.body, mode: plan.mode).isAtOrAfter(stop) {
                    dead.insert(party)
                    return
                }
                let envelope = Fedshare_V1_PartyEnvelope(message)
                guard let envelope = intercept.map({ $0(party, envelope) }) ?? envelope else { continue }
                for envelope in rewrite.map({ $0(party, envelope) }) ?? [envelope] {
                    let bytes: [UInt8] = try envelope.serializedBytes()
                    try checkedSize(bytes.count, message: "PartyEnvelope")
                    sent[party, default: 0] += bytes.count
                    toAggregator.append((party, bytes))
                }
            }
        }
        func deliver(_ effects: [AggregatorEffect]) throws {
            let outgoing = aggregatorBooks.perform(effects, on: &aggregator, using: &generator)
            for message in outgoing where !dead.contains(message.party) {
                let envelope = Fedshare_V1_AggregatorEnvelope(message.envelope)
                for envelope in rewriteToParty.map({ $0(message.party, envelope) }) ?? [envelope] {
                    let bytes: [UInt8] = try envelope.serializedBytes()
                    try checkedSize(bytes.count, message: "AggregatorEnvelope")
                    received[message.party, default: 0] += bytes.count
                    toParties.append((message.party, bytes))
                }
            }
        }

        for party in parties.map(\.id).sorted() {
            guard let engine = engines[party] else { continue }
            try send(party, [engine.hello()])
        }
        var announcedDead = Set<Int>()
        while aggregator.outcome == nil || !toParties.isEmpty {
            if !toAggregator.isEmpty {
                let (party, bytes) = toAggregator.removeFirst()
                let envelope = try Fedshare_V1_PartyEnvelope(serializedBytes: bytes)
                try deliver(aggregator.receive(Wire.PartyEnvelope(envelope), from: party))
            } else if !toParties.isEmpty {
                let (party, bytes) = toParties.removeFirst()
                guard !dead.contains(party), var engine = engines[party] else { continue }
                let envelope = try Fedshare_V1_AggregatorEnvelope(serializedBytes: bytes)
                let replies = books[party]!.perform(engine.receive(Wire.AggregatorEnvelope(envelope), using: &generator), on: &engine, using: &generator)
                engines[party] = engine
                try send(party, replies)
                // A party that stopped on an error hangs up.
                if engine.outcome != nil { dead.insert(party) }
            } else if let party = dead.subtracting(announcedDead).min() {
                // The dead party's stream ends (what gRPC reports when its machine dies).
                announcedDead.insert(party)
                try deliver(aggregator.partyLeft(party, reason: "its stream ended"))
            } else {
                // Nothing in flight: the phase deadline passes.
                idleDeadlines += 1
                guard idleDeadlines < 64 else { throw FederationError.configuration("the round made no progress after \(idleDeadlines) deadlines") }
                try deliver(aggregator.deadlinePassed())
            }
            if aggregator.phase != lastPhase {
                let now = ContinuousClock.now
                let elapsed = now - phaseStart
                phaseSeconds.append((phase: lastPhase, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
                phaseStart = now
                lastPhase = aggregator.phase
            }
        }
        guard let outcome = aggregator.outcome else { throw FederationError.configuration("the round did not finish") }
        var outcomes: [Int: RoundOutcome] = [:]
        for (id, engine) in engines {
            outcomes[id] = engine.outcome ?? .aborted(phase: engine.phase, reason: "stopped answering", missing: [])
        }
        return Report(
            aggregator: outcome, parties: outcomes, phaseSeconds: phaseSeconds, bytesSent: sent,
            bytesReceived: received, round: roundID)
    }
}
