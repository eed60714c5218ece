import Arithmetic
import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Paillier
import SecureAggregation

/// The aggregator's side of one round, as a state machine without sockets.
///
/// The transport feeds it every envelope a party sends (`receive(_:from:)`, with the party id
/// its certificate proves), tells it when a party's stream ends (`partyLeft(_:reason:)`) and
/// when the current phase's deadline passes (`deadlinePassed()`), and sends the messages each
/// call returns. ``waitingFor`` says which parties the current phase still waits for.
///
/// Paillier mode: join → contribute (accept + encrypted chunks) → decrypt (partial
/// decryptions with proofs, from a committee of t contributors unless ``DecryptionCommittee``
/// says otherwise) → release. Secure-aggregation mode: join → advertise → share →
/// contribute (masked input) → unmask → release, driving `SecAggServer` unchanged. Every
/// phase proceeds without parties that dropped while at least t remain, and otherwise aborts
/// naming the missing parties. The federation ledger commits before any result leaves.
public struct AggregatorRound: RoundEngine, Sendable {
    public let plan: RoundPlan
    public let round: UInt64
    public let noNoise: Bool
    /// The analyst's request this round answers, verified by the runtime (nil: a round over
    /// every record); forwarded as signed in RoundOpen, and its analyst named in the charge.
    public let request: RoundRequest?
    private let signedRequest: Wire.SignedRoundRequest?
    public private(set) var phase: RoundPhase = .join
    public private(set) var outcome: RoundOutcome?
    /// Parties that joined (sent Hello), ascending.
    public private(set) var joined: [Int] = []
    /// Dropped parties so far, with the phase and the reason.
    public private(set) var dropped: [Int: DroppedParty] = [:]
    /// The aggregator's own reservation in the federation ledger (made at open).
    public private(set) var reservation: Reservation?

    private let invited: [Int]
    private let key: ThresholdPublicKey?
    private let verifier: PeerVerifier?
    private let deadlines: [RoundPhase: UInt64]
    /// Parties still taking part in the current phase.
    private var alive: Set<Int> = []
    private var answered: Set<Int> = []
    private var accepted: Set<Int> = []
    private var committed: [Int: Int64] = [:]

    // Paillier.
    private var layout: SlotLayout?
    private var contributions: [Int: CiphertextBatchAssembler] = [:]
    /// Each contribution's chunks as they arrived (signature and certificate in chunk 0), to relay
    /// to the other contributors so that each can recompute the sum it decrypts.
    private var contributionChunks: [Int: [Wire.ContributionChunk]] = [:]
    private var sum: [PaillierCiphertext] = []
    private var contributors: [Int] = []
    private var context: [UInt8] = []
    private var partials: [Int: PartialDecryptionAssembler] = [:]
    private let committee: DecryptionCommittee
    /// Contributors in the order their contributions completed (the committee is the first t).
    private var contributionOrder: [Int] = []
    /// Contributors sent the sum to decrypt so far (the committee, then any stand-ins).
    private var asked: Set<Int> = []
    private var sumChunks: [Wire.EncryptedSumChunk] = []
    /// Counts the times the decrypt phase asked contributors for partial decryptions (the
    /// committee, then stand-ins): the transport restarts the phase's timer when it changes, so
    /// that a stand-in gets a whole deadline.
    public private(set) var decryptRequests = 0

    // Secure aggregation.
    private var sessionNonce: [UInt8] = []
    private var map: SecAggPartyMap?
    private var server: SecAggServer?
    private var masked: [Int: MaskedInputAssembler] = [:]

    /// - Parameters:
    ///   - plan: the round's parameters, from the aggregator's manifest.
    ///   - round: a round id never used before (``RoundStore/nextRoundID()``).
    ///   - parties: the parties invited (the manifest's, or a subset).
    ///   - key: the threshold public key (Paillier mode).
    ///   - verifier: checks each contribution's signature on arrival, so that a party that signs
    ///     badly is cut off here rather than making every honest party refuse the sum (nil: the
    ///     parties' own checks only).
    ///   - deadlines: milliseconds per phase, announced to parties (the transport enforces them).
    ///   - noNoise: simulations only; recorded in the result.
    ///   - committee: who is asked for partial decryptions (Paillier mode).
    ///   - request: the analyst's request, as verified, and as signed.
    ///   - generator: the session nonce's source (`SecureRandom` in production).
    public init(
        plan: RoundPlan, round: UInt64, parties: [Int], key: ThresholdPublicKey?, verifier: PeerVerifier? = nil,
        deadlines: [RoundPhase: UInt64] = [:], noNoise: Bool = false, committee: DecryptionCommittee = .threshold,
        request: (verified: RoundRequest, signed: Wire.SignedRoundRequest)? = nil,
        using generator: inout some RandomNumberGenerator
    ) throws {
        let invited = Array(Set(parties)).sorted()
        guard invited.count >= plan.threshold, invited.count <= WireProtocol.maximumParties, invited.allSatisfy({ $0 >= 1 }) else {
            throw FederationError.configuration(
                "a round needs between the threshold \(plan.threshold) and \(WireProtocol.maximumParties) distinct positive party ids; got \(invited)")
        }
        switch plan.mode {
        case .paillier:
            guard let key else { throw FederationError.configuration("Paillier mode needs the threshold public key") }
            // Party ids map to key-share indices by rank among the manifest's parties (any ids, not just 1...n).
            guard key.threshold == plan.threshold,
                invited.allSatisfy({ plan.shareIndex(ofParty: $0).map(key.partyIDs.contains) ?? false })
            else {
                throw FederationError.configuration(
                    "the threshold key is \(key.threshold)-of-\(key.parties) but the round needs threshold \(plan.threshold) for parties \(invited) of the manifest's \(plan.keyHolders)"
                )
            }
        case .secagg:
            guard plan.threshold >= 2 else { throw FederationError.configuration("secure aggregation needs a threshold of at least 2") }
        }
        self.plan = plan
        self.round = round
        self.invited = invited
        self.key = key
        self.verifier = verifier
        self.deadlines = deadlines
        self.noNoise = noNoise
        self.committee = committee
        self.request = request?.verified
        self.signedRequest = request?.signed
        var nonce = [UInt8]()
        while nonce.count < 32 { withUnsafeBytes(of: generator.next()) { nonce += $0 } }
        sessionNonce = nonce
        alive = Set(invited)
    }

    /// The current phase's deadline in milliseconds, if one was given (the transport arms a
    /// timer with it and calls ``deadlinePassed()`` when it fires).
    public var currentDeadline: UInt64? { outcome == nil ? deadlines[phase] : nil }

    /// The parties the current phase still waits for (in the decrypt phase, those asked).
    public var waitingFor: [Int] {
        guard outcome == nil else { return [] }
        let expected = phase == .decrypt ? alive.intersection(asked) : alive
        return expected.subtracting(answered).sorted()
    }

    // MARK: Input

    /// Handles one envelope from `party` (the id its certificate proves). A message that breaks
    /// the protocol cuts that party off (it is named in ``dropped``) and an `Error` goes back to
    /// it; the round goes on without it while ≥ t remain.
    public mutating func receive(_ envelope: Wire.PartyEnvelope, from party: Int) -> [AggregatorEffect] {
        guard outcome == nil else { return [] }
        guard invited.contains(party), dropped[party] == nil else {
            return [reply(party, .error(Envelopes.error(.errorUnexpectedMessage, "party \(party) is not taking part in round \(round)", phase: phase)))]
        }
        do {
            try check(envelope, from: party)
            var out = try handle(envelope.body, from: party)
            out += advanceIfReady()
            return out
        } catch {
            var out = [reply(party, .error(Envelopes.error(WireErrorCode.of(error), "\(error)", phase: phase)))]
            out += drop(party, reason: "\(error)")
            return out
        }
    }

    /// The party's stream ended (machine died, network cut, or it hung up).
    public mutating func partyLeft(_ party: Int, reason: String = "disconnected") -> [AggregatorEffect] {
        guard outcome == nil, invited.contains(party), dropped[party] == nil else { return [] }
        // A party that has nothing more to send in this round (its result is on its way) is not a dropout.
        if phase == .join, !joined.contains(party) {
            alive.remove(party)
            dropped[party] = DroppedParty(party: party, phase: .join, reason: reason)
            return advanceIfReady()
        }
        return drop(party, reason: reason)
    }

    /// The current phase's deadline passed: silent parties are dropped and the round moves on
    /// (or aborts below the threshold).
    public mutating func deadlinePassed() -> [AggregatorEffect] {
        guard outcome == nil else { return [] }
        for party in waitingFor {
            dropped[party] = DroppedParty(party: party, phase: phase, reason: "no answer before the \(phase.rawValue) deadline")
            alive.remove(party)
        }
        return closePhase()
    }

    // MARK: Checks

    private func check(_ envelope: Wire.PartyEnvelope, from party: Int) throws {
        guard envelope.protocolVersion == WireProtocol.version else {
            throw ProtocolError.unsupportedVersion(found: envelope.protocolVersion, supported: WireProtocol.version)
        }
        guard Int(envelope.partyID) == party else {
            throw FederationError.identity(party: party, claimed: Int(envelope.partyID))
        }
        guard Array(envelope.manifestHash) == plan.manifestHash else {
            throw FederationError.parameterMismatch(field: "manifest hash", expected: hex(plan.manifestHash), found: hex(Array(envelope.manifestHash)))
        }
        if case .hello = envelope.body, envelope.roundID == 0 { return }
        guard envelope.roundID == round else {
            throw FederationError.wrongRound(party: party, found: envelope.roundID, current: round)
        }
    }

    private func unexpected(_ body: Wire.PartyEnvelope.Body?, _ party: Int) -> FederationError {
        .unexpectedMessage(party: party, received: Envelopes.name(body), phase: phase.rawValue)
    }

    // MARK: Handling

    private mutating func handle(_ body: Wire.PartyEnvelope.Body?, from party: Int) throws -> [AggregatorEffect] {
        switch body {
        case .hello(let hello):
            guard phase == .join, !joined.contains(party) else { throw unexpected(body, party) }
            guard hello.supportedVersions.isEmpty || hello.supportedVersions.contains(WireProtocol.version) else {
                throw ProtocolError.unsupportedVersion(found: hello.supportedVersions.first ?? 0, supported: WireProtocol.version)
            }
            if plan.mode == .paillier, let key, !hello.keyID.isEmpty, Array(hello.keyID) != key.keyID {
                throw FederationError.parameterMismatch(field: "threshold key", expected: key.fingerprint, found: hex(Array(hello.keyID)))
            }
            joined.append(party)
            joined.sort()
            answered.insert(party)
            var welcome = Wire.Welcome()
            welcome.federation = plan.federation
            welcome.connected = joined.map { UInt32($0) }
            welcome.software = "fedshare"
            return [reply(party, .welcome(welcome))]

        case .accept:
            guard phase == firstWorkPhase, !accepted.contains(party) else { throw unexpected(body, party) }
            accepted.insert(party)
            return []

        case .refuse(let refuse):
            guard phase == firstWorkPhase, !accepted.contains(party) else { throw unexpected(body, party) }
            alive.remove(party)
            dropped[party] = DroppedParty(party: party, phase: .join, reason: "refused: \(refuse.message.prefix(500))")
            return []

        case .contribution(let chunk):
            guard plan.mode == .paillier, phase == .contribute, accepted.contains(party), !answered.contains(party),
                let key, let layout
            else { throw unexpected(body, party) }
            var assembler =
                contributions[party]
                ?? CiphertextBatchAssembler(
                    message: "ContributionChunk from party \(party)", key: key.paillierKey,
                    expectedCount: layout.plaintextCount(for: plan.valueCount))
            try assembler.append(chunk: chunk.chunk, first: chunk.firstCiphertext, count: chunk.ciphertextCount, bytes: chunk.ciphertexts)
            contributions[party] = assembler
            contributionChunks[party, default: []].append(chunk)
            if assembler.isComplete {
                try checkSignature(of: party, ciphertexts: assembler.ciphertexts, key: key)
                answered.insert(party)
                contributionOrder.append(party)
            }
            return []

        case .commitAck(let ack):
            let commitPhase: RoundPhase = plan.mode == .paillier ? .decrypt : .unmask
            guard phase == commitPhase, alive.contains(party), plan.mode == .secagg || asked.contains(party), committed[party] == nil else {
                throw unexpected(body, party)
            }
            committed[party] = ack.ledgerEntryID
            return []

        case .partialDecryption(let chunk):
            guard plan.mode == .paillier, phase == .decrypt, alive.contains(party), asked.contains(party), !answered.contains(party), let key else {
                throw unexpected(body, party)
            }
            guard committed[party] != nil else {
                throw FederationError.malformed(party: party, reason: "sent its partial decryption before its CommitAck")
            }
            var assembler = partials[party] ?? PartialDecryptionAssembler(party: party, key: key, expectedCount: sum.count, context: context)
            try assembler.append(chunk)
            partials[party] = assembler
            if assembler.isComplete { answered.insert(party) }
            return []

        case .advertiseKeys(let message):
            guard plan.mode == .secagg, phase == .advertise, accepted.contains(party), let map else { throw unexpected(body, party) }
            let advertise = try SecAggWire.advertise(message, round: round, sender: party, map: map)
            return try serverReceive(.advertiseKeys(advertise), from: party)

        case .shareKeys(let message):
            guard plan.mode == .secagg, phase == .share, let map else { throw unexpected(body, party) }
            return try serverReceive(.shareKeys(try SecAggWire.shareKeys(message, sender: party, map: map)), from: party)

        case .maskedInput(let chunk):
            guard plan.mode == .secagg, phase == .contribute, alive.contains(party), !answered.contains(party), let map else {
                throw unexpected(body, party)
            }
            var assembler = masked[party] ?? MaskedInputAssembler(sender: party, expectedLength: plan.valueCount)
            try assembler.append(chunk)
            masked[party] = assembler
            guard assembler.isComplete else { return [] }
            masked[party] = nil
            return try serverReceive(.maskedInput(try assembler.message(map: map)), from: party)

        case .survivorSignature(let message):
            guard plan.mode == .secagg, phase == .check, let map else { throw unexpected(body, party) }
            return try serverReceive(.survivorSignature(try SecAggWire.survivorSignature(message, sender: party, map: map)), from: party)

        case .unmaskingResponse(let message):
            guard plan.mode == .secagg, phase == .unmask, let map else { throw unexpected(body, party) }
            guard committed[party] != nil else {
                throw FederationError.malformed(party: party, reason: "sent its unmasking shares before its CommitAck")
            }
            return try serverReceive(.unmaskingResponse(try SecAggWire.unmaskingResponse(message, sender: party, map: map)), from: party)

        case .resultAck:
            // Acks arrive after the release, when `receive` no longer runs: one before it is
            // out of phase (and would otherwise be a free way to keep the aggregator busy).
            throw unexpected(body, party)

        case .error(let error):
            throw FederationError.malformed(party: party, reason: "reported an error: \(error.message.prefix(500))")

        case .none:
            throw FederationError.malformed(party: party, reason: "sent an empty envelope")
        }
    }

    private var firstWorkPhase: RoundPhase { plan.mode == .paillier ? .contribute : .advertise }

    /// Cuts `party` off. It is named in the phase the round is in, whether or not its
    /// RoundAccept had arrived (a refusal is named at join where it is handled).
    private mutating func drop(_ party: Int, reason: String) -> [AggregatorEffect] {
        guard dropped[party] == nil else { return [] }
        dropped[party] = DroppedParty(party: party, phase: phase, reason: reason)
        alive.remove(party)
        answered.remove(party)
        if phase == .join { joined.removeAll { $0 == party } }
        return advanceIfReady()
    }

    // MARK: Phases

    private mutating func advanceIfReady() -> [AggregatorEffect] {
        guard outcome == nil else { return [] }
        // Fewer than t parties left: no point waiting for the deadline.
        if alive.count < plan.threshold {
            // The phase the round was in, even when the parties that left never accepted it;
            // join only when every party lost so far refused the round or never joined it.
            let named = phase == firstWorkPhase && dropped.values.allSatisfy({ $0.phase == .join }) ? RoundPhase.join : phase
            return abort(phase: named, reason: "only \(alive.count) parties remain in phase \(phase.rawValue); the threshold is \(plan.threshold)")
        }
        // A committee member left: a stand-in is asked now rather than after the others' shares.
        if phase == .decrypt, alive.intersection(asked).count < plan.threshold {
            return askStandIns(plan.threshold - alive.intersection(asked).count)
        }
        guard waitingFor.isEmpty else { return [] }
        return closePhase()
    }

    private mutating func closePhase() -> [AggregatorEffect] {
        guard outcome == nil else { return [] }
        switch phase {
        case .join: return open()
        case .contribute where plan.mode == .paillier: return closeContribute()
        case .decrypt: return closeDecrypt()
        case .advertise, .share, .contribute, .check, .unmask: return closeSecAggPhase()
        default: return []
        }
    }

    private mutating func open() -> [AggregatorEffect] {
        for party in invited where !joined.contains(party) && dropped[party] == nil {
            dropped[party] = DroppedParty(party: party, phase: .join, reason: "did not join")
        }
        guard joined.count >= plan.threshold else {
            return abort(phase: .join, reason: "only \(joined.count) of \(invited.count) parties joined; the threshold is \(plan.threshold)")
        }
        // The charge is reserved first; the round opens when the ledger admits it (`reserved`).
        return [.reserve(plan.charge(party: "aggregator", round: round, analyst: request?.analyst ?? ""), cap: plan.ledgerCap)]
    }

    /// The federation ledger answered the reservation asked for when the join phase closed.
    public mutating func reserved(
        _ result: Result<Reservation, any Error>,
        using generator: inout some RandomNumberGenerator
    ) -> [AggregatorEffect] {
        guard outcome == nil, phase == .join, reservation == nil else { return [] }
        switch result {
        case .success(let reservation): self.reservation = reservation
        case .failure(let error): return abort(phase: .join, reason: "the federation ledger refuses the round: \(error)")
        }
        var open = Wire.RoundOpen()
        open.mode = plan.mode == .paillier ? .paillier : .secagg
        open.manifestHash = plan.manifestHash
        open.cost = plan.cost
        open.parties = joined.map { UInt32($0) }
        open.threshold = UInt32(plan.threshold)
        open.fractionalBits = UInt32(plan.codec.fractionalBits)
        open.valueCount = UInt32(plan.valueCount)
        open.groups = UInt32(plan.groups.count)
        open.anchors = UInt32(plan.anchors.count)
        open.noNoise = noNoise
        if let signedRequest { open.request = signedRequest }
        open.deadlines = deadlines.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            var deadline = Wire.PhaseDeadline()
            deadline.phase = $0.key.wire
            deadline.milliseconds = $0.value
            return deadline
        }
        do {
            switch plan.mode {
            case .paillier:
                guard let key else { return abort(phase: .join, reason: "no threshold key") }
                let layout = try plan.layout(parties: joined.count, modulusBits: key.bits)
                self.layout = layout
                open.layout = Wire.SlotLayout(layout)
                open.keyID = key.keyID
                phase = .contribute
            case .secagg:
                let map = try SecAggPartyMap(parties: joined)
                let configuration = try SecAggConfiguration(
                    parties: joined.count, threshold: plan.threshold, vectorLength: plan.valueCount,
                    sessionNonce: sessionNonce, round: round, consistencyCheck: true)
                self.map = map
                server = SecAggServer(
                    configuration: configuration,
                    verifier: verifier.map { SecAggSigning.verify($0, manifestHash: plan.manifestHash, map: map) })
                open.sessionNonce = sessionNonce
                phase = .advertise
            }
        } catch {
            return abort(phase: .join, reason: "cannot open the round: \(error)")
        }
        alive = Set(joined)
        answered = []
        return [recorded()] + joined.map { reply($0, .open(open)) }
    }

    private mutating func closeContribute() -> [AggregatorEffect] {
        for party in alive.subtracting(answered) {
            dropped[party] = DroppedParty(party: party, phase: phase, reason: "no complete contribution")
        }
        contributors = answered.sorted()
        contributions = contributions.filter { answered.contains($0.key) }
        guard contributors.count >= plan.threshold, let key else {
            return abort(phase: .contribute, reason: "only \(contributors.count) contributions arrived; the threshold is \(plan.threshold)")
        }
        // Homomorphic sum, ciphertext by ciphertext (each was validated in Z*_{n²} on arrival).
        let batches = contributors.compactMap { contributions[$0]?.ciphertexts }
        let count = batches[0].count
        sum = (0..<count).map { index in
            batches.dropFirst().reduce(batches[0][index]) { key.paillierKey.add($0, $1[index]) }
        }
        contributions = [:]
        context = plan.decryptionContext(round: round, contributors: contributors)
        phase = .decrypt
        alive = Set(contributors)
        answered = []
        sumChunks = CiphertextChunking.encryptedSumChunks(sum, key: key.paillierKey, contributors: contributors, context: context)
        return [recorded()] + askStandIns(committee == .everyone ? contributors.count : plan.threshold)
    }

    /// Asks `count` more contributors (in the order their contributions completed) for partial
    /// decryptions: each gets the others' signed contributions, to recompute the sum, then the
    /// sum. The contributors not asked stand by, as contributors, until the release.
    private mutating func askStandIns(_ count: Int) -> [AggregatorEffect] {
        let chosen = contributionOrder.filter { alive.contains($0) && !asked.contains($0) }.prefix(count)
        guard !chosen.isEmpty else { return [] }
        asked.formUnion(chosen)
        decryptRequests += 1
        return chosen.flatMap { party in
            contributors.filter { $0 != party }.flatMap { sender in
                (contributionChunks[sender] ?? []).map { chunk in
                    var relay = Wire.RelayedContribution()
                    relay.party = UInt32(sender)
                    relay.contribution = chunk
                    return reply(party, .relayedContribution(relay))
                }
            } + sumChunks.map { reply(party, .encryptedSum($0)) }
        }
    }

    private mutating func closeDecrypt() -> [AggregatorEffect] {
        guard let key, let layout else { return abort(phase: .decrypt, reason: "no key") }
        var shares: [ThresholdDecryptionShare] = []
        for party in alive.intersection(asked).sorted() {
            guard let assembler = partials[party], assembler.isComplete, let share = try? assembler.share(),
                let index = plan.shareIndex(ofParty: party)
            else {
                dropped[party] = DroppedParty(party: party, phase: .decrypt, reason: "no complete partial decryption")
                alive.remove(party)
                continue
            }
            // The key combines by share index; the certificate's party id maps to it through the manifest.
            shares.append(
                ThresholdDecryptionShare(
                    party: index, keyID: share.keyID, context: share.context, batchDigest: share.batchDigest,
                    values: share.values, proof: share.proof))
        }
        do {
            let (values, combination) = try key.combinePackedSum(
                shares, for: sum, context: context, layout: layout,
                count: plan.valueCount, contributors: contributors.count)
            dropRejected(combination.rejected)
            return release(sums: values, contributors: contributors, keyFingerprint: key.fingerprint)
        } catch {
            // Too few valid shares, but contributors stand by: they make up the difference.
            if case PaillierError.notEnoughShares(_, let valid, let rejected, _) = error {
                dropRejected(rejected)
                let needed = plan.threshold - valid.count
                if alive.subtracting(asked).count >= needed { return askStandIns(needed) }
            }
            return abortDecryption(error)
        }
    }

    private mutating func dropRejected(_ rejected: [PaillierError.Rejection]) {
        for rejection in rejected {
            let party = plan.party(ofShareIndex: rejection.party) ?? rejection.party
            dropped[party] = DroppedParty(party: party, phase: .decrypt, reason: "bad partial decryption: \(rejection.reason)")
            alive.remove(party)
        }
    }

    private mutating func abortDecryption(_ error: any Error) -> [AggregatorEffect] {
        // The key names shares by index; say which party holds which when the ids are not 1...n.
        let holders =
            plan.keyHolders == Array(1...max(1, plan.keyHolders.count))
            ? ""
            : " (key-share indices 1...\(plan.keyHolders.count) are parties \(plan.keyHolders))"
        return abort(phase: .decrypt, reason: "threshold decryption failed: \(error)\(holders)")
    }

    /// A contribution is signed by its party (chunk 0 carries the certificate and signature).
    private func checkSignature(of party: Int, ciphertexts: [PaillierCiphertext], key: ThresholdPublicKey) throws {
        guard let verifier, let first = contributionChunks[party]?.first else { return }
        let statement = SignedStatement.contribution(
            manifestHash: plan.manifestHash, round: round, party: party,
            ciphertexts: ciphertexts, key: key)
        do {
            try verifier.verify(Array(first.signature), over: statement, by: party, certificate: Array(first.certificate))
        } catch {
            throw FederationError.malformed(party: party, reason: "its contribution to round \(round) \(error)")
        }
    }

    // MARK: Secure aggregation

    private mutating func serverReceive(_ message: ClientMessage, from party: Int) throws -> [AggregatorEffect] {
        guard var server, let map else { throw unexpected(nil, party) }
        let outputs: [Addressed<ServerMessage>]
        do { outputs = try server.receive(message) } catch let error as SecAggError {
            // The server counts parties from 0; the reason must name them by their ids.
            throw FederationError.malformed(party: party, reason: Self.reason(error, map: map))
        }
        self.server = server
        answered.insert(party)
        return handleServer(outputs)
    }

    private mutating func closeSecAggPhase() -> [AggregatorEffect] {
        guard var server else { return abort(phase: phase, reason: "no secure-aggregation server") }
        do {
            let outputs = try server.closePhase()
            self.server = server
            return handleServer(outputs)
        } catch {
            self.server = server
            return abort(phase: phase, reason: "\(error)")
        }
    }

    private mutating func handleServer(_ outputs: [Addressed<ServerMessage>]) -> [AggregatorEffect] {
        guard let server, let map else { return [] }
        for (index, secaggPhase) in server.dropouts {
            let party = map.party(at: index)
            if dropped[party] == nil {
                dropped[party] = DroppedParty(
                    party: party, phase: Self.roundPhase(secaggPhase), reason: "no answer in phase \(Self.roundPhase(secaggPhase).rawValue)")
            }
        }
        switch server.state {
        case .completed(let result):
            let sums = result.sum.map { Int64(bitPattern: $0) }
            return release(sums: sums, contributors: result.contributors.map(map.party(at:)), keyFingerprint: "secagg")
        case .aborted(let reason):
            return abort(phase: phase, reason: "\(reason)")
        case .collecting(let secaggPhase):
            let next = Self.roundPhase(secaggPhase)
            guard next != phase else { return [] }
            phase = next
            alive = Set(outputs.map { map.party(at: $0.recipient) }).subtracting(dropped.keys)
            answered = []
            return [recorded()]
                + outputs.compactMap { addressed -> AggregatorEffect? in
                    let party = map.party(at: addressed.recipient)
                    // A party cut off by this engine gets nothing more (the server may still list it).
                    guard dropped[party] == nil else { return nil }
                    switch addressed.message {
                    case .keyDirectory(let directory): return reply(party, .keyDirectory(SecAggWire.directory(directory, map: map)))
                    case .forwardedShares(let shares): return reply(party, .forwardedShares(SecAggWire.forwarded(shares, map: map)))
                    case .survivorSet(let survivors): return reply(party, .survivorSet(SecAggWire.survivorSet(survivors, map: map)))
                    case .unmaskingRequest(let request): return reply(party, .unmaskingRequest(SecAggWire.unmaskingRequest(request, map: map)))
                    case .abort: return nil
                    }
                }
        }
    }

    /// A secure-aggregation server's refusal of a party's message, in party ids.
    static func reason(_ error: SecAggError, map: SecAggPartyMap) -> String {
        switch error {
        case .wrongSession(_, let what): return "its message is for another session (\(what) differs)"
        case .unexpectedMessage(_, let received, let expected): return "sent an unexpected \(received) message (expected \(expected))"
        case .duplicateMessage(_, let kind): return "sent a duplicate \(kind) message (replay or resend)"
        case .duplicatePublicKey(_, let other): return "advertised the same public key as party \(map.party(at: other))"
        case .unknownParty: return "is not a member of this round"
        case .malformed(let what, let reason) where what.hasPrefix("advertised keys of party"):
            return "its advertised keys: \(reason) (keys are signed with the party's federation certificate)"
        case .malformed(let what, let reason) where what.hasPrefix("survivor signature of party"):
            return "its survivor-set signature \(reason)"
        default: return "\(error)"
        }
    }

    static func roundPhase(_ secagg: SecAggPhase) -> RoundPhase {
        switch secagg {
        case .advertiseKeys: return .advertise
        case .shareKeys: return .share
        case .maskedInput: return .contribute
        case .consistencyCheck: return .check
        case .unmasking: return .unmask
        }
    }

    // MARK: Endings

    private mutating func release(sums: [Int64], contributors: [Int], keyFingerprint: String) -> [AggregatorEffect] {
        guard let reservation else { return abort(phase: phase, reason: "no ledger reservation") }
        let result = RoundResult(
            round: round, mode: plan.mode, groups: plan.groups, anchors: plan.anchors, fractionalBits: plan.codec.fractionalBits,
            sums: sums, contributors: contributors.sorted(), dropped: dropped.values.sorted { $0.party < $1.party },
            event: plan.event, ledgerEntryID: reservation.id, keyFingerprint: keyFingerprint, noNoise: noNoise)
        phase = .release
        var entry = record(contributors: result.contributors)
        entry.phase = RoundPhase.done.rawValue
        phase = .done
        outcome = .released(result)
        let chunks = result.chunks(cost: plan.cost)
        let recipients = joined.filter { dropped[$0] == nil }
        // The expense first: a crash after the commit loses a release, never a charge. A write
        // that fails ends the round here (``failed(_:error:)``) and no result leaves.
        return [.commit(reservation), .markReleased(entry)] + recipients.flatMap { party in chunks.map { reply(party, .result($0)) } }
    }

    /// Ends the round without a release. The parties get `reason`; the outcome also says what
    /// the federation ledger or the round store could not record (``failed(_:error:)``: the
    /// charge then stays held, never lost).
    private mutating func abort(phase failed: RoundPhase, reason: String, cancelReservation: Bool = true) -> [AggregatorEffect] {
        let missing = dropped.keys.sorted()
        var effects: [AggregatorEffect] = []
        // Nothing was released: the charge goes back.
        if cancelReservation, let reservation { effects.append(.cancel(reservation)) }
        phase = .aborted
        var entry = record(contributors: [])
        entry.reason = reason
        effects.append(.persist(entry))
        outcome = .aborted(phase: failed, reason: reason, missing: missing)
        var notice = Wire.Abort()
        notice.phase = failed.wire
        notice.reason = String(reason.prefix(2000))
        notice.missingParties = missing.map { UInt32($0) }
        return effects + joined.filter { dropped[$0] == nil }.map { reply($0, .abort(notice)) }
    }

    /// A ledger or round-store write failed. Before the release it ends the round: a phase the
    /// store cannot record ends it before anything that could open the sum leaves (a restart
    /// settles an interrupted round's charge from its last recorded phase), and a release the
    /// ledger or store cannot record is not sent. During an abort the failure is named in the
    /// outcome and the abort goes on.
    public mutating func failed(_ effect: AggregatorEffect, error: any Error) -> [AggregatorEffect]? {
        if case .aborted(let failedPhase, let reason, let missing)? = outcome {
            let problem: String
            switch effect {
            case .cancel(let reservation): problem = "its reservation \(reservation.id) stays held: \(error)"
            case .persist: problem = "the round store could not record the abort: \(error)"
            default: problem = "\(error)"
            }
            // A restart finds the round in its last recorded phase and settles it from there.
            outcome = .aborted(phase: failedPhase, reason: reason + "; " + problem, missing: missing)
            return nil
        }
        switch effect {
        case .commit, .markReleased:
            return abort(phase: .release, reason: "cannot record the release: \(error)", cancelReservation: false)
        default:
            return abort(phase: phase, reason: "cannot record the round's state: \(error)")
        }
    }

    // MARK: Plumbing

    private func reply(_ party: Int, _ body: Wire.AggregatorEnvelope.Body) -> AggregatorEffect {
        .send(OutgoingMessage(party: party, envelope: Envelopes.aggregator(round: round, manifestHash: plan.manifestHash, body)))
    }

    private func record(contributors: [Int]) -> RoundRecord {
        RoundRecord(
            round: Int64(bitPattern: round), mode: plan.mode.rawValue, phase: phase.rawValue, released: false,
            contributors: contributors.map(String.init).joined(separator: ","),
            dropped: dropped.values.sorted { $0.party < $1.party }.map { "\($0.party)@\($0.phase.rawValue)" }.joined(separator: ","),
            reason: nil, reservation: reservation?.id, updated: RoundRecord.now())
    }

    /// The round's state as the round store keeps it.
    public var stateRecord: RoundRecord { record(contributors: []) }

    /// Records the phase the round just entered (``failed(_:error:)`` ends the round when the
    /// store cannot).
    private func recorded() -> AggregatorEffect { .persist(stateRecord) }
}

/// What the aggregator engine asks its runtime to do.
public typealias AggregatorEffect = RoundEffect<OutgoingMessage>

func hex(_ bytes: [UInt8]) -> String { Base16.encode(bytes) }

/// Who the aggregator asks for partial decryptions of a Paillier round's sum.
public enum DecryptionCommittee: String, Sendable, CaseIterable {
    /// The first t contributors whose contributions arrived; another contributor is asked only
    /// when one of them leaves or sends an invalid share. The least work for the federation
    /// and for the aggregator's proof checks.
    case threshold
    /// Every contributor at once: no second round trip when one fails, at n/t times the work.
    case everyone
}
