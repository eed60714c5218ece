import Arithmetic
import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Manifest
import Paillier
import Primitives
import SecureAggregation

/// One party's side of one round, as a state machine without sockets or storage: send
/// ``hello()``, then feed every aggregator envelope to `receive(_:using:)` and have a
/// ``RoundBookkeeper`` perform what it returns (ledger writes, then the messages to send).
///
/// The party trusts nothing the aggregator says about parameters or budget: it recomputes the
/// round's plan from its own manifest and refuses any difference, reserves the charge in its
/// own ledger (refusing when its cap would be exceeded), and commits that charge before the
/// message that can open the result (its partial decryption or unmasking shares) leaves.
///
/// Against an aggregator that deviates (Papers/threat-model.md): in Paillier mode the party
/// signs its contribution, decrypts at most one sum per round, and only a sum it has
/// recomputed itself from at least t contributions of this round, each signed by its
/// contributor; in secure-aggregation mode it checks the signed key directory and reveals
/// shares only after at least t survivors signed the same survivor set. Any deviation is
/// refused with ``FederationError/aggregatorRefused(party:reason:)`` and the party's ledger
/// is settled for the worst case.
public struct PartyRound: RoundEngine, Sendable {
    public struct Options: Sendable {
        /// Accept rounds announced without noise (simulations only).
        public var allowNoNoise = false
        /// Told how a long step advances: `(step, done, total)`, at most once per percent, on
        /// the worker thread that got there (for a progress bar).
        public var progress: (@Sendable (Work, _ done: Int, _ total: Int) -> Void)?
        /// The requests this party already answered (a long-running party shares one across
        /// rounds, so that a replayed request is refused).
        public var answered: AnsweredRequests?
        public init(allowNoNoise: Bool = false, progress: (@Sendable (Work, Int, Int) -> Void)? = nil, answered: AnsweredRequests? = nil) {
            self.allowNoNoise = allowNoNoise
            self.progress = progress
            self.answered = answered
        }
    }

    /// A step long enough to deserve a progress bar.
    public enum Work: String, Sendable {
        case encrypting = "encrypting"
        case partialDecryption = "partial decryption"
    }

    public let party: Int
    public let plan: RoundPlan
    public private(set) var phase: RoundPhase = .join
    public private(set) var outcome: RoundOutcome?
    public private(set) var round: UInt64 = 0
    /// The reservation in this party's ledger for the current round.
    public private(set) var reservation: Reservation?
    /// True once this party's ledger committed the round's charge.
    public private(set) var committed = false
    /// True once the party's (encrypted or masked) contribution left.
    public private(set) var contributed = false
    /// How the ledger was settled when the round ended without a result for this party
    /// (``connectionLost(reason:)``, or a request it refused).
    public private(set) var settlement: LossSettlement?
    /// The analyst's request the round answers, once verified (nil: a round over every record).
    public private(set) var request: RoundRequest?

    private let manifestParties: [Int]
    private let source: ContributionSource
    /// This round's contribution, from `source` once the round opened.
    private var contribution: AttentionResult?
    private let credentials: PartyCredentials
    private let keyShare: ThresholdKeyShare?
    private let publicKey: ThresholdPublicKey?
    private let options: Options
    private var invited: [Int] = []
    private var noNoise = false
    private var layout: SlotLayout?
    private var sumAssembler: CiphertextBatchAssembler?
    private var sumContributors: [Int] = []
    private var sumContext: [UInt8] = []
    /// This party's own ciphertexts, and the other contributors' as relayed and verified.
    private var ownCiphertexts: [PaillierCiphertext] = []
    private var relayed: [Int: RelayedBatch] = [:]
    private var verified: [Int: [PaillierCiphertext]] = [:]
    /// True once this party's partial decryption of the round's sum left: it opens one sum per round.
    public private(set) var opened = false
    private var map: SecAggPartyMap?
    private var client: SecAggClient?
    private var resultChunks: ChunkAssembler<Int>?
    private var resultHeader: Wire.ResultHeader?
    private var resultValues: [Int64] = []
    /// The round announced, while the ledger reserves its charge (``reserved(_:using:)``).
    private var pendingOpen: Wire.RoundOpen?
    /// The phase the result arrived in (named if the ledger cannot commit at the release).
    private var phaseBeforeResult: RoundPhase = .join
    /// Which settlement a ledger write that fails belongs to.
    private var settling: Settling?
    private enum Settling { case worstCase, afterAbort }

    /// - Parameters:
    ///   - party: this party's id (as in its certificate and the manifest).
    ///   - manifest: the party's own copy of the manifest.
    ///   - source: its local attention A_p and counts n_p for the round's scope
    ///     (``ContributionSource``), asked when the round opens.
    ///   - credentials: its certificate's signing key and the federation CA it checks others against.
    ///   - keyShare, publicKey: its threshold key share (Paillier mode).
    ///   - threshold: overrides the manifest's threshold (simulations).
    public init(
        party: Int, manifest: FederationManifest, source: ContributionSource, credentials: PartyCredentials,
        keyShare: ThresholdKeyShare? = nil, publicKey: ThresholdPublicKey? = nil,
        threshold: Int? = nil, options: Options = Options()
    ) throws {
        guard manifest.parties.contains(party) else {
            throw FederationError.configuration("party \(party) is not in the manifest's parties \(manifest.parties)")
        }
        guard credentials.signer.party == party else {
            throw FederationError.configuration("party \(party): its signing certificate is party \(credentials.signer.party)'s")
        }
        let plan = try RoundPlan(manifest: manifest, threshold: threshold)
        if plan.mode == .paillier {
            guard let keyShare, let publicKey else {
                throw FederationError.configuration("party \(party): Paillier mode needs its key share and the public key")
            }
            // Share indices follow the manifest's ascending party ids (parties [2, 5, 9] hold shares 1, 2, 3).
            guard keyShare.party == plan.shareIndex(ofParty: party) else {
                throw FederationError.configuration(
                    "party \(party): the key share has index \(keyShare.party), but party \(party) holds share \(plan.shareIndex(ofParty: party) ?? 0) (its rank among the manifest's parties \(plan.keyHolders))"
                )
            }
            do { try keyShare.verify(against: publicKey) } catch {
                throw FederationError.configuration("party \(party): the key share does not match the public key: \(error)")
            }
        }
        self.party = party
        self.plan = plan
        self.manifestParties = manifest.parties
        self.source = source
        self.credentials = credentials
        self.keyShare = keyShare
        self.publicKey = publicKey
        self.options = options
    }

    /// A party with a contribution computed before the round (``ContributionSource/fixed(_:)``);
    /// data that cannot be encoded fails here, before the party connects.
    public init(
        party: Int, manifest: FederationManifest, contribution: AttentionResult, credentials: PartyCredentials,
        keyShare: ThresholdKeyShare? = nil, publicKey: ThresholdPublicKey? = nil,
        threshold: Int? = nil, options: Options = Options()
    ) throws {
        try self.init(
            party: party, manifest: manifest, source: .fixed(contribution), credentials: credentials, keyShare: keyShare,
            publicKey: publicKey, threshold: threshold, options: options)
        try plan.checkEncodable(contribution, parties: manifest.parties.count)
    }

    /// The first message on the stream.
    public func hello() -> Wire.PartyEnvelope {
        var hello = Wire.Hello()
        hello.supportedVersions = [WireProtocol.version]
        hello.keyID = publicKey?.keyID ?? []
        hello.software = "fedshare"
        return envelope(.hello(hello))
    }

    /// An `Error` envelope telling the aggregator why this party stops.
    public func errorEnvelope(_ error: any Error) -> Wire.PartyEnvelope {
        envelope(.error(Envelopes.error(WireErrorCode.of(error), "\(error)", phase: phase)))
    }

    /// Handles one aggregator envelope and returns the effects to perform. When the aggregator
    /// breaks the protocol the party stops (``outcome`` is set): its ledger is settled for the
    /// worst case and the last effect sends an `Error` envelope, after which it hangs up.
    public mutating func receive(
        _ envelope: Wire.AggregatorEnvelope,
        using generator: inout some RandomNumberGenerator
    ) -> [PartyEffect] {
        guard outcome == nil else { return [] }
        do {
            return try handle(envelope, using: &generator)
        } catch {
            return stop(onError: error)
        }
    }

    /// The ledger answered the reservation of the round just announced: the party accepts and
    /// contributes, or refuses when its own ledger refuses the charge.
    public mutating func reserved(
        _ result: Result<Reservation, any Error>,
        using generator: inout some RandomNumberGenerator
    ) -> [PartyEffect] {
        guard outcome == nil, let open = pendingOpen else { return [] }
        pendingOpen = nil
        switch result {
        case .success(let reservation):
            self.reservation = reservation
        case .failure(let error):
            return refuse(.refuseBudgetExceeded, "party \(party): its own ledger refuses round \(round): \(error)")
        }
        do {
            return try contribute(to: open, using: &generator)
        } catch {
            return stop(onError: error)
        }
    }

    /// A ledger write failed. A commit that the release or an opening share waits for stops the
    /// party (the reservation stays pending, which still holds the charge against the cap, and
    /// nothing after it leaves); a settlement that fails is named in how the round ended.
    public mutating func failed(_ effect: PartyEffect, error: any Error) -> [PartyEffect]? {
        guard case .commit(let reservation) = effect else {
            guard case .cancel(let reservation) = effect else { return nil }
            self.reservation = reservation
            if settling == .afterAbort, case .aborted(let phase, let reason, let missing)? = outcome {
                let held = "party \(party)'s reservation \(reservation.id) stays held: its ledger could not cancel it: \(error)"
                outcome = .aborted(phase: phase, reason: reason + "; " + held, missing: missing)
            } else {
                settlement = .heldPending(reservation: reservation.id, reason: "\(error)")
            }
            return nil
        }
        committed = false
        settlement = .heldPending(reservation: reservation.id, reason: "\(error)")
        if settling == .worstCase { return nil }
        if case .released? = outcome { phase = phaseBeforeResult }
        outcome = nil
        stop(.aborted(phase: phase, reason: "\(error)", missing: []))
        return [.send(errorEnvelope(error))]
    }

    /// Stops on the aggregator's protocol violation (or a local failure): the ledger is settled
    /// for the worst case and the aggregator is told why.
    private mutating func stop(onError error: any Error) -> [PartyEffect] {
        stop(.aborted(phase: phase, reason: "\(error)", missing: []))
        return settleForWorstCase() + [.send(errorEnvelope(error))]
    }

    // MARK: Handling

    private mutating func handle(
        _ envelope: Wire.AggregatorEnvelope,
        using generator: inout some RandomNumberGenerator
    ) throws -> [PartyEffect] {
        guard envelope.protocolVersion == WireProtocol.version else {
            throw ProtocolError.unsupportedVersion(found: envelope.protocolVersion, supported: WireProtocol.version)
        }
        guard Array(envelope.manifestHash) == plan.manifestHash else {
            throw FederationError.parameterMismatch(field: "manifest hash", expected: hex(plan.manifestHash), found: hex(Array(envelope.manifestHash)))
        }
        if round != 0 || phase != .join {
            guard envelope.roundID == round else {
                throw FederationError.wrongRound(party: nil, found: envelope.roundID, current: round)
            }
        }
        switch envelope.body {
        case .welcome:
            guard phase == .join else { throw unexpected(envelope.body) }
            return []
        case .open(let open):
            guard phase == .join, reservation == nil, pendingOpen == nil else { throw unexpected(envelope.body) }
            return try handleOpen(open, round: envelope.roundID, using: &generator)
        case .relayedContribution(let relay):
            guard plan.mode == .paillier, phase == .contribute || phase == .decrypt, !opened else {
                if opened { throw refused("relayed a contribution after party \(party) opened this round's sum") }
                throw unexpected(envelope.body)
            }
            try handleRelay(relay)
            return []
        case .encryptedSum(let chunk):
            guard plan.mode == .paillier, phase == .contribute || phase == .decrypt else { throw unexpected(envelope.body) }
            return try handleSum(chunk, using: &generator)
        case .keyDirectory(let directory):
            guard let map, var client, phase == .advertise else { throw unexpected(envelope.body) }
            let message = try decoded(directory) { try SecAggWire.directory($0, round: round, map: map) }
            let reply = try secagg(&client, .keyDirectory(message), map: map)
            self.client = client
            phase = .share
            guard case .shareKeys(let shares)? = reply else { throw unexpected(envelope.body) }
            return [send(.shareKeys(SecAggWire.shareKeys(shares, map: map)))]
        case .forwardedShares(let forwarded):
            guard let map, var client, phase == .share else { throw unexpected(envelope.body) }
            let message = try SecAggWire.forwarded(forwarded, recipient: party, map: map)
            let reply = try secagg(&client, .forwardedShares(message), map: map)
            self.client = client
            phase = .contribute
            guard case .maskedInput(let input)? = reply else { throw unexpected(envelope.body) }
            contributed = true
            return SecAggWire.maskedInputChunks(input).map { send(.maskedInput($0)) }
        case .survivorSet(let survivors):
            guard let map, var client, phase == .contribute else { throw unexpected(envelope.body) }
            let message = try decoded(survivors) { try SecAggWire.survivorSet($0, map: map) }
            let reply = try secagg(&client, .survivorSet(message), map: map)
            self.client = client
            phase = .check
            guard case .survivorSignature(let signature)? = reply else { throw unexpected(envelope.body) }
            return [send(.survivorSignature(SecAggWire.survivorSignature(signature)))]
        case .unmaskingRequest(let request):
            guard let map, var client, phase == .check else { throw unexpected(envelope.body) }
            let message = try decoded(request) { try SecAggWire.unmaskingRequest($0, map: map) }
            let reply = try secagg(&client, .unmaskingRequest(message), map: map)
            self.client = client
            phase = .unmask
            guard case .unmaskingResponse(let response)? = reply else { throw unexpected(envelope.body) }
            // The charge is committed before the shares that open the sum leave.
            return try commit() + [send(.unmaskingResponse(SecAggWire.unmaskingResponse(response, map: map)))]
        case .result(let chunk):
            return try handleResult(chunk)
        case .abort(let notice):
            stop(.aborted(phase: RoundPhase(wire: notice.phase), reason: notice.reason, missing: notice.missingParties.map { Int($0) }))
            return settleAfterAbort()
        case .error(let error):
            stop(.aborted(phase: phase, reason: "the aggregator reports: \(error.message.prefix(500))", missing: []))
            return settleAfterAbort()
        case .none:
            throw FederationError.malformed(party: nil, reason: "the aggregator sent an empty envelope")
        }
    }

    private mutating func handleOpen(
        _ open: Wire.RoundOpen, round: UInt64,
        using generator: inout some RandomNumberGenerator
    ) throws -> [PartyEffect] {
        self.round = round
        // Every announced parameter is recomputed here from this party's own manifest.
        if let problem = check(open) { return refuse(problem.reason, problem.message) }
        // The request, as the analyst signed it; then this party's answer to it. A refusal or a
        // decline comes before any reservation: it costs nothing.
        if open.hasRequest {
            let request: RoundRequest
            do { request = try RoundRequest.verified(open.request, verifier: credentials.verifier, manifestHash: plan.manifestHash) } catch {
                return refuse(.refuseParameters, "party \(party) refuses round \(round): \(error)")
            }
            if options.answered?.remember(request.nonce) == false {
                return refuse(
                    .refuseParameters,
                    "party \(party) refuses round \(round): request \(request.id) of analyst \(request.analyst) was already answered (a replay)")
            }
            self.request = request
        }
        let answer: ContributionAnswer
        do { answer = try source.answer(request) } catch {
            return refuse(.refuseInternal, "party \(party) cannot compute its contribution to round \(round): \(error)")
        }
        switch answer {
        case .decline(let reason):
            return refuse(.refusePolicy, "party \(party) declines round \(round): \(reason)")
        case .contribute(let result):
            do { try plan.checkEncodable(result, parties: manifestParties.count) } catch {
                return refuse(.refuseInternal, "party \(party) cannot contribute to round \(round): \(error)")
            }
            contribution = result
        }
        invited = open.parties.map { Int($0) }
        noNoise = open.noNoise
        // The party's own ledger reserves the charge first (``reserved(_:using:)``).
        pendingOpen = open
        return [.reserve(plan.charge(party: String(party), round: round, analyst: request?.analyst ?? ""), cap: plan.ledgerCap)]
    }

    /// Refuses the round announced: nothing reserved, nothing of this party's data sent.
    private mutating func refuse(_ reason: Wire.RefuseReason, _ message: String) -> [PartyEffect] {
        stop(.refused(reason: message))
        var refuse = Wire.RoundRefuse()
        refuse.reason = reason
        refuse.message = message
        return [send(.refuse(refuse))]
    }

    /// Accepts the round whose charge is reserved, and sends this party's contribution.
    private mutating func contribute(
        to open: Wire.RoundOpen,
        using generator: inout some RandomNumberGenerator
    ) throws -> [PartyEffect] {
        var accept = Wire.RoundAccept()
        accept.reservationID = reservation?.id ?? 0
        let noise = try plan.noiseShare(parties: invited.count, noNoise: noNoise, using: &generator)
        guard let contribution else { throw FederationError.internalState("party \(party): no contribution for round \(round)") }
        let values = try plan.encode(contribution, noise: noise, parties: invited.count)
        switch plan.mode {
        case .paillier:
            guard let publicKey, let layout else { throw FederationError.internalState("no key") }
            let ciphertexts: [PaillierCiphertext]
            do {
                let plaintexts = try layout.pack(values)
                ciphertexts = try publicKey.paillierKey.encrypt(batch: plaintexts, progress: meter(.encrypting, total: plaintexts.count))
            } catch {
                throw FederationError.contribution("party \(party): cannot pack and encrypt its contribution: \(error)")
            }
            // Signed, so that every other contributor can check the sum it is asked to decrypt.
            let statement = SignedStatement.contribution(
                manifestHash: plan.manifestHash, round: round, party: party,
                ciphertexts: ciphertexts, key: publicKey)
            var chunks = CiphertextChunking.contributionChunks(ciphertexts, key: publicKey.paillierKey)
            chunks[0].certificate = credentials.signer.certificate
            chunks[0].signature = try credentials.signer.sign(statement)
            ownCiphertexts = ciphertexts
            phase = .contribute
            contributed = true
            return [send(.accept(accept))] + chunks.map { send(.contribution($0)) }
        case .secagg:
            let map = try SecAggPartyMap(parties: invited)
            let configuration = try SecAggConfiguration(
                parties: invited.count, threshold: plan.threshold, vectorLength: plan.valueCount,
                sessionNonce: Array(open.sessionNonce), round: round, consistencyCheck: true)
            let client = try SecAggClient(
                id: try map.index(of: party), configuration: configuration,
                input: values.map { UInt64(bitPattern: $0) }, using: &generator,
                authenticator: SecAggSigning.authenticator(credentials, manifestHash: plan.manifestHash, map: map))
            guard case .advertiseKeys(let advertise) = client.advertiseKeys() else { throw FederationError.internalState("no keys") }
            self.map = map
            self.client = client
            phase = .advertise
            return [send(.accept(accept)), send(.advertiseKeys(SecAggWire.advertise(advertise, map: map)))]
        }
    }

    /// The first difference between the announced round and this party's own plan.
    private mutating func check(_ open: Wire.RoundOpen) -> (reason: Wire.RefuseReason, message: String)? {
        func mismatch(
            _ field: String, _ expected: String, _ found: String, _ reason: Wire.RefuseReason = .refuseParameters
        )
            -> (reason: Wire.RefuseReason, message: String)
        {
            (reason: reason, message: "party \(party): \(FederationError.parameterMismatch(field: field, expected: expected, found: found))")
        }
        guard Array(open.manifestHash) == plan.manifestHash else {
            return mismatch("manifest hash", hex(plan.manifestHash), hex(Array(open.manifestHash)), .refuseManifestMismatch)
        }
        let mode: Wire.Mode = plan.mode == .paillier ? .paillier : .secagg
        guard open.mode == mode else { return mismatch("mode", "\(mode)", "\(open.mode)") }
        guard Int(open.threshold) == plan.threshold else { return mismatch("threshold", "\(plan.threshold)", "\(open.threshold)") }
        guard Int(open.fractionalBits) == plan.codec.fractionalBits else {
            return mismatch("fractional bits", "\(plan.codec.fractionalBits)", "\(open.fractionalBits)")
        }
        guard Int(open.valueCount) == plan.valueCount, Int(open.groups) == plan.groups.count, Int(open.anchors) == plan.anchors.count else {
            return mismatch("shape", "\(plan.groups.count) groups × \(plan.anchors.count) anchors", "\(open.groups) × \(open.anchors)")
        }
        let parties = open.parties.map { Int($0) }
        guard parties.count <= WireProtocol.maximumParties, parties == Array(Set(parties)).sorted(), parties.contains(party),
            parties.allSatisfy(manifestParties.contains), parties.count >= plan.threshold
        else {
            return mismatch("parties", "ascending distinct ids from \(manifestParties) including \(party), at least \(plan.threshold)", "\(parties.prefix(20))")
        }
        guard let event = try? open.cost.event(), event == plan.event,
            (try? open.cost.neighbouringRelation()) == plan.relation, open.cost.unit == plan.unit
        else {
            return mismatch(
                "privacy cost", "\(plan.event)",
                "\(open.cost.mechanism) noise \(open.cost.noise) sensitivity \(open.cost.sensitivity) dimension \(open.cost.dimension)")
        }
        if open.noNoise, !options.allowNoNoise {
            return mismatch("no_noise", "noise (no-noise rounds are for simulations only)", "no noise")
        }
        switch plan.mode {
        case .paillier:
            guard let publicKey, Array(open.keyID) == publicKey.keyID else {
                return mismatch("threshold key", publicKey?.fingerprint ?? "none", hex(Array(open.keyID)), .refuseKeyMismatch)
            }
            guard let expected = try? plan.layout(parties: parties.count, modulusBits: publicKey.bits),
                let announced = try? open.layout.layout(), announced == expected
            else {
                return mismatch("slot layout", (try? plan.layout(parties: parties.count, modulusBits: publicKey.bits).description) ?? "?", "a different layout")
            }
            layout = expected
        case .secagg:
            guard (16...64).contains(open.sessionNonce.count) else { return mismatch("session nonce", "16 to 64 bytes", "\(open.sessionNonce.count) bytes") }
        }
        return nil
    }

    /// Another contributor's signed contribution, relayed by the aggregator before the sum.
    private mutating func handleRelay(_ relay: Wire.RelayedContribution) throws {
        guard let publicKey, let layout else { throw FederationError.internalState("no key") }
        let sender = Int(relay.party)
        guard sender != party, invited.contains(sender), verified[sender] == nil else {
            throw refused("relayed a contribution of party \(relay.party), which is not another invited party awaiting one")
        }
        var batch =
            relayed[sender]
            ?? RelayedBatch(
                assembler: CiphertextBatchAssembler(
                    message: "RelayedContribution of party \(sender)", key: publicKey.paillierKey,
                    expectedCount: layout.plaintextCount(for: plan.valueCount)))
        if relay.contribution.chunk.index == 0 {
            batch.certificate = Array(relay.contribution.certificate)
            batch.signature = Array(relay.contribution.signature)
        }
        let chunk = relay.contribution
        try batch.assembler.append(chunk: chunk.chunk, first: chunk.firstCiphertext, count: chunk.ciphertextCount, bytes: chunk.ciphertexts)
        guard batch.assembler.isComplete else {
            relayed[sender] = batch
            return
        }
        relayed[sender] = nil
        let ciphertexts = batch.assembler.ciphertexts
        let statement = SignedStatement.contribution(
            manifestHash: plan.manifestHash, round: round, party: sender,
            ciphertexts: ciphertexts, key: publicKey)
        do {
            try credentials.verifier.verify(batch.signature, over: statement, by: sender, certificate: batch.certificate)
        } catch {
            throw refused("relayed a contribution of party \(sender) that is not party \(sender)'s signed contribution to round \(round): \(error)")
        }
        verified[sender] = ciphertexts
    }

    private mutating func handleSum(
        _ chunk: Wire.EncryptedSumChunk,
        using generator: inout some RandomNumberGenerator
    ) throws -> [PartyEffect] {
        guard let publicKey, let keyShare, let layout else { throw FederationError.internalState("no key") }
        guard !opened else {
            throw refused("sent a second encrypted sum in round \(round); party \(party) decrypts one sum per round")
        }
        if sumAssembler == nil {
            let contributors = chunk.contributors.map { Int($0) }
            // The sum must hold at least t contributions from this round, so the noise guarantee holds.
            guard contributors == Array(Set(contributors)).sorted(), contributors.count >= plan.threshold,
                contributors.allSatisfy(invited.contains)
            else {
                throw refused(
                    "sent an encrypted sum of contributors \(contributors.prefix(20)); party \(party) decrypts only the sum of at least \(plan.threshold) distinct invited parties"
                )
            }
            guard contributors.contains(party) else {
                throw refused("sent an encrypted sum of contributors \(contributors.prefix(20)) that leaves out party \(party)'s own contribution")
            }
            let context = plan.decryptionContext(round: round, contributors: contributors)
            guard Array(chunk.context) == context else {
                throw FederationError.malformed(party: nil, reason: "the decryption context does not match round \(round) and its contributors")
            }
            sumContributors = contributors
            sumContext = context
            sumAssembler = CiphertextBatchAssembler(
                message: "EncryptedSumChunk", key: publicKey.paillierKey,
                expectedCount: layout.plaintextCount(for: plan.valueCount))
            phase = .decrypt
        }
        guard chunk.contributors.map({ Int($0) }) == sumContributors, Array(chunk.context) == sumContext, var assembler = sumAssembler else {
            throw FederationError.malformed(party: nil, reason: "the encrypted sum's contributors or context changed between chunks")
        }
        try assembler.append(chunk: chunk.chunk, first: chunk.firstCiphertext, count: chunk.ciphertextCount, bytes: chunk.ciphertexts)
        sumAssembler = assembler
        guard assembler.isComplete else { return [] }
        // Only the homomorphic sum of this round's signed contributions is decrypted.
        let expected = try recomputedSum(key: publicKey.paillierKey)
        guard expected == assembler.ciphertexts else {
            throw refused("sent an encrypted sum that is not the sum of the signed contributions of parties \(sumContributors) to round \(round)")
        }
        let share: ThresholdDecryptionShare
        do {
            share = try keyShare.decryptionShare(
                for: assembler.ciphertexts, publicKey: publicKey, context: sumContext, using: &generator,
                progress: meter(.partialDecryption, total: assembler.ciphertexts.count))
        } catch {
            throw FederationError.malformed(party: nil, reason: "cannot decrypt the encrypted sum: \(error)")
        }
        sumAssembler = nil
        opened = true
        relayed = [:]
        verified = [:]
        // The charge is committed before the partial decryption that opens the sum leaves.
        return try commit() + PartialDecryptionChunking.chunks(share, key: publicKey).map { send(.partialDecryption($0)) }
    }

    /// This party's ciphertexts times every other contributor's verified ones.
    private func recomputedSum(key: PaillierPublicKey) throws -> [PaillierCiphertext] {
        var sum = ownCiphertexts
        for contributor in sumContributors where contributor != party {
            guard let batch = verified[contributor], batch.count == sum.count else {
                throw refused("asked for the decryption of a sum that includes party \(contributor) without relaying its signed contribution")
            }
            for index in sum.indices { sum[index] = key.add(sum[index], batch[index]) }
        }
        return sum
    }

    /// A relayed contribution being reassembled, with the signature and certificate of its chunk 0.
    private struct RelayedBatch: Sendable {
        var assembler: CiphertextBatchAssembler
        var certificate: [UInt8] = []
        var signature: [UInt8] = []
    }

    /// Feeds the secure-aggregation client; a check it fails is the aggregator's deviation
    /// (an unsigned key, a survivor set or unmasking request that is not what t survivors
    /// signed), named in party ids.
    private func secagg(_ client: inout SecAggClient, _ message: ServerMessage, map: SecAggPartyMap) throws -> ClientMessage? {
        do {
            return try client.receive(message)
        } catch let error as SecAggError {
            throw refused("sent a \(SecAggSigning.name(of: message)): \(SecAggSigning.reason(error, map: map))")
        }
    }

    /// A secure-aggregation message from the wire; one that does not decode is the aggregator's.
    private func decoded<Wire, Message>(_ wire: Wire, _ decode: (Wire) throws -> Message) throws -> Message {
        do { return try decode(wire) } catch let error as ProtocolError {
            throw refused("sent a malformed \(String(describing: Wire.self).replacingOccurrences(of: "Wire.", with: "")): \(error)")
        }
    }

    /// A counter for a long step, when someone listens.
    private func meter(_ work: Work, total: Int) -> WorkProgress? {
        options.progress.map { report in WorkProgress(total: total) { report(work, $0, $1) } }
    }

    private mutating func handleResult(_ chunk: Wire.ResultChunk) throws -> [PartyEffect] {
        guard reservation != nil, phase != .join else { throw unexpected(.result(chunk)) }
        var chunks = resultChunks ?? ChunkAssembler<Int>(message: "ResultChunk")
        if chunk.chunk.index == 0 {
            guard chunk.hasHeader, RoundResult.fits(chunk.header, plan) else {
                throw FederationError.malformed(party: nil, reason: "the result's header does not match this round's shape")
            }
            resultHeader = chunk.header
        }
        guard Int(chunk.firstValue) == resultValues.count, resultValues.count + chunk.values.count <= plan.valueCount else {
            throw FederationError.malformed(party: nil, reason: "result chunk at value \(chunk.firstValue) does not follow value \(resultValues.count)")
        }
        try chunks.append(chunk.chunk, resultValues.count)
        resultChunks = chunks
        resultValues += chunk.values
        guard chunks.isComplete else { return [] }
        guard let header = resultHeader else { throw FederationError.malformed(party: nil, reason: "the result has no header") }
        let result = try RoundResult(round: round, header: header, values: resultValues, plan: plan)
        // The result may contain this party's data even if it did not help open it: commit.
        var effects: [PartyEffect] = []
        if !committed, contributed, let reservation {
            effects.append(.commit(reservation))
            committed = true
        }
        phaseBeforeResult = phase
        phase = .done
        outcome = .released(result)
        return effects + [send(.resultAck(Wire.ResultAck()))]
    }

    // MARK: Ledger

    /// Commits the charge (once) and acknowledges it to the aggregator.
    private mutating func commit() throws -> [PartyEffect] {
        guard let reservation else { throw FederationError.internalState("party \(party): nothing reserved to commit") }
        var ack = Wire.CommitAck()
        ack.reservationID = reservation.id
        ack.ledgerEntryID = reservation.id
        let effects: [PartyEffect] = committed ? [] : [.commit(reservation)]
        committed = true
        return effects + [send(.commitAck(ack))]
    }

    /// What a lost connection did to this party's reservation (``connectionLost(reason:)``).
    public enum LossSettlement: Sendable, Equatable {
        /// The round had not opened for this party: nothing was reserved.
        case nothingReserved
        /// Nothing of this party's data had left the machine: the reservation was cancelled.
        case cancelled(reservation: Int64)
        /// Its contribution had left (t other parties may still open a sum holding it), so the
        /// charge was committed: it counts as spent.
        case committed(reservation: Int64)
        /// The charge was already committed (its opening share had left).
        case alreadyCommitted(reservation: Int64)
        /// The charge should have been committed but the ledger refused; the reservation stays
        /// pending, which still holds it against the cap.
        case heldPending(reservation: Int64, reason: String)
    }

    /// The stream to the aggregator broke (or closed) before the round ended for this party:
    /// the party cannot know whether the round goes on without it, so its ledger is settled for
    /// the worst case. Once its (encrypted or masked) contribution left, the charge is committed
    /// and counts as spent, released or not; a reservation for a round where nothing of the
    /// party's data left is cancelled. The round ends here for this engine (``outcome`` is
    /// `aborted`); a reconnecting party starts a new `PartyRound` for the next round.
    public mutating func connectionLost(reason: String) -> [PartyEffect] {
        guard outcome == nil else {
            if let reservation, committed {
                settlement = .alreadyCommitted(reservation: reservation.id)
            } else {
                settlement = .nothingReserved
            }
            return []
        }
        let lostIn = phase
        stop(.aborted(phase: lostIn, reason: "the connection to the aggregator was lost in phase \(lostIn.rawValue): \(reason)", missing: []))
        return settleForWorstCase()
    }

    /// Settles the reservation when the round ends for this party without a result (a lost
    /// stream, or a request it refused): committed once its contribution left, since t others
    /// may still open a sum holding it; cancelled when nothing of its data left. ``settlement``
    /// says which (``failed(_:error:)`` makes it `heldPending` when the ledger refuses).
    private mutating func settleForWorstCase() -> [PartyEffect] {
        settling = .worstCase
        guard let reservation else {
            settlement = .nothingReserved
            return []
        }
        if committed {
            settlement = .alreadyCommitted(reservation: reservation.id)
            return []
        }
        if contributed {
            committed = true
            settlement = .committed(reservation: reservation.id)
            return [.commit(reservation)]
        }
        self.reservation = nil
        settlement = .cancelled(reservation: reservation.id)
        return [.cancel(reservation)]
    }

    /// After an abort: the reservation is cancelled only if this party's contribution never
    /// left (otherwise t others could still open a sum holding it, so the charge stays held).
    /// A cancel the ledger refuses is named in the outcome (the charge then stays held, never lost).
    private mutating func settleAfterAbort() -> [PartyEffect] {
        guard let reservation, !committed, !contributed else { return [] }
        settling = .afterAbort
        self.reservation = nil
        return [.cancel(reservation)]
    }

    private mutating func stop(_ outcome: RoundOutcome) {
        self.outcome = outcome
        if case .aborted = outcome { phase = .aborted }
    }

    private func refused(_ reason: String) -> FederationError {
        .aggregatorRefused(party: party, reason: reason)
    }

    private func unexpected(_ body: Wire.AggregatorEnvelope.Body?) -> FederationError {
        .unexpectedMessage(party: nil, received: Envelopes.name(body), phase: phase.rawValue)
    }

    private func envelope(_ body: Wire.PartyEnvelope.Body) -> Wire.PartyEnvelope {
        Envelopes.party(party, round: round, manifestHash: plan.manifestHash, body)
    }

    private func send(_ body: Wire.PartyEnvelope.Body) -> PartyEffect { .send(envelope(body)) }
}

/// What a party engine asks its runtime to do.
public typealias PartyEffect = RoundEffect<Wire.PartyEnvelope>
