import Attention
import DifferentialPrivacy
import Primitives
import Testing

@testable import Federation

/// The round engines write nothing themselves: these tests run them with no ledger and no round
/// store, answer their effects by hand, and check what they ask for and in what order.
@Suite("Round engines: effects, with no ledger and no store")
struct EngineEffectTests {
    /// A federation of three parties (threshold 2), engines only: secure aggregation unless
    /// `mode` says paillier (with the tests' cached 512-bit threshold key).
    struct Round {
        var aggregator: AggregatorRound
        var parties: [Int: PartyRound]
        let plan: RoundPlan

        init(mode: String = "secagg") throws {
            let folder = try TemporaryFolder()
            let manifest = try makeManifest(in: folder, parties: 3, threshold: 2, mode: mode)
            let data = try contributions(manifest: manifest, parties: 3)
            let pki = try EphemeralFederationPKI(federation: manifest.name, parties: [1, 2, 3])
            let dealing = mode == "paillier" ? try TestKeys.shared.dealing(threshold: 2, parties: 3) : nil
            plan = try RoundPlan(manifest: manifest)
            var random = SeededRandom(seed: 11)
            aggregator = try AggregatorRound(
                plan: plan, round: 7, parties: [1, 2, 3], key: dealing?.publicKey, verifier: pki.verifier, using: &random)
            parties = [:]
            for party in 1...3 {
                parties[party] = try PartyRound(
                    party: party, manifest: manifest, contribution: data[party]!,
                    credentials: try pki.credentials(party: party), keyShare: dealing?.shares[party - 1], publicKey: dealing?.publicKey)
            }
        }
    }

    /// Performs effects as a runtime would, but in memory: reservations are numbered, a write
    /// fails when `fails` says so, and every effect is logged ("who: what").
    struct Books {
        var log: [String] = []
        var nextReservation: Int64 = 1
        var fails: (String) -> Bool = { _ in false }

        mutating func perform<Engine: RoundEngine>(
            _ effects: [RoundEffect<Engine.Message>], on engine: inout Engine, who: String,
            using random: inout SeededRandom, name: (Engine.Message) -> String
        ) -> [Engine.Message] {
            var queue = effects[...]
            var sent: [Engine.Message] = []
            while let effect = queue.popFirst() {
                let entry = "\(who): " + describe(effect, name: name)
                log.append(entry)
                if case .send(let message) = effect {
                    sent.append(message)
                    continue
                }
                if case .reserve(let charge, _) = effect {
                    let reservation = Reservation(
                        id: nextReservation, dataset: charge.dataset,
                        spendAfter: PrivacySpend(epsilon: 1, delta: 0, accountant: .basic))
                    nextReservation += 1
                    let result: Result<Reservation, any Error> = fails(entry) ? .failure(Refusal()) : .success(reservation)
                    queue = (engine.reserved(result, using: &random) + queue)[...]
                    continue
                }
                if fails(entry), let replacement = engine.failed(effect, error: Refusal()) { queue = replacement[...] }
            }
            return sent
        }

        /// Where `entry` first stands in the log.
        func first(_ entry: String) throws -> Int { try #require(log.firstIndex(of: entry), "\(entry) not in \(log)") }

        func describe<Message>(_ effect: RoundEffect<Message>, name: (Message) -> String) -> String {
            switch effect {
            case .reserve: "reserve"
            case .commit(let reservation): "commit \(reservation.id)"
            case .cancel(let reservation): "cancel \(reservation.id)"
            case .persist(let record): "persist \(record.phase)"
            case .markReleased(let record): "released \(record.phase)"
            case .send(let message): "send " + name(message)
            }
        }
    }

    struct Refusal: Error, CustomStringConvertible { var description: String { "the disk is full" } }

    /// The result of a released round.
    func released(_ outcome: RoundOutcome?) throws -> RoundResult {
        guard case .released(let result)? = outcome else {
            throw Expected(description: "expected a release, got \(String(describing: outcome))")
        }
        return result
    }

    /// The phase and reason of an aborted round.
    func aborted(_ outcome: RoundOutcome?) throws -> (RoundPhase, String) {
        guard case .aborted(let phase, let reason, _)? = outcome else {
            throw Expected(description: "expected an abort, got \(String(describing: outcome))")
        }
        return (phase, reason)
    }

    struct Expected: Error, CustomStringConvertible { let description: String }

    /// Runs a fresh round to its end with the writes `fails` names failing.
    static func run(mode: String = "secagg", failing fails: @escaping (String) -> Bool = { _ in false }) throws -> (Round, Books) {
        var round = try Round(mode: mode)
        var books = Books()
        books.fails = fails
        run(&round, books: &books)
        return (round, books)
    }

    /// Runs the round to its end (or until `stop` holds), routing messages between the engines.
    static func run(_ round: inout Round, books: inout Books, until stop: (Round) -> Bool = { _ in false }) {
        var random = SeededRandom(seed: 3)
        var toAggregator: [(Int, PartyRound.Message)] = round.parties.keys.sorted().map { ($0, round.parties[$0]!.hello()) }
        var toParties: [OutgoingMessage] = []
        func deliver(_ effects: [AggregatorEffect]) {
            toParties += books.perform(effects, on: &round.aggregator, who: "aggregator", using: &random) { "\(Envelopes.name($0.envelope.body))→\($0.party)" }
        }
        var steps = 0
        while steps < 10_000, round.aggregator.outcome == nil || !toParties.isEmpty, !stop(round) {
            steps += 1
            if !toAggregator.isEmpty {
                let (party, envelope) = toAggregator.removeFirst()
                deliver(round.aggregator.receive(envelope, from: party))
            } else if !toParties.isEmpty {
                let message = toParties.removeFirst()
                var engine = round.parties[message.party]!
                let effects = engine.receive(message.envelope, using: &random)
                let replies = books.perform(effects, on: &engine, who: "party \(message.party)", using: &random) { Envelopes.name($0.body) }
                round.parties[message.party] = engine
                toAggregator += replies.map { (message.party, $0) }
            } else {
                deliver(round.aggregator.deadlinePassed())
            }
        }
    }

    @Test func aRoundAsksForEveryWriteBeforeWhatDependsOnIt() throws {
        let (round, books) = try Self.run()
        #expect(try released(round.aggregator.outcome).contributors == [1, 2, 3])
        let log = books.log
        let first = books.first
        // The aggregator reserves before the round opens, and records each phase before its messages.
        #expect(try first("aggregator: reserve") < first("aggregator: send RoundOpen→1"))
        #expect(try first("aggregator: persist advertise") < first("aggregator: send RoundOpen→1"))
        #expect(try first("aggregator: persist unmask") < first("aggregator: send SecAggUnmaskingRequest→1"))
        // The release is committed and recorded before any result leaves.
        #expect(try first("aggregator: commit 1") < first("aggregator: released done"))
        #expect(try first("aggregator: released done") < first("aggregator: send ResultChunk→1"))
        for party in 1...3 {
            let who = "party \(party)"
            // Each party reserves in its own ledger before it accepts, and commits before the
            // shares that open the sum leave; it commits once.
            #expect(try first("\(who): reserve") < first("\(who): send RoundAccept"))
            let commit = try #require(log.firstIndex { $0.hasPrefix("\(who): commit") })
            #expect(commit < (try first("\(who): send SecAggUnmaskingResponse")))
            #expect(log.filter { $0.hasPrefix("\(who): commit") }.count == 1)
            #expect(!log.contains { $0.hasPrefix("\(who): cancel") })
            guard case .released? = round.parties[party]!.outcome else {
                Issue.record("party \(party): \(String(describing: round.parties[party]!.outcome))")
                continue
            }
        }
    }

    /// Paillier: the aggregator records the decrypt phase before the encrypted sum leaves; the
    /// committee (the first t contributors) commits before its partial decryptions leave; the
    /// contributor that stood by commits when the release reaches it, never twice.
    @Test func aPaillierRoundCommitsBeforeEveryOpeningShare() throws {
        let (round, books) = try Self.run(mode: "paillier")
        #expect(try released(round.aggregator.outcome).contributors == [1, 2, 3])
        let log = books.log
        let first = books.first
        #expect(try first("aggregator: persist decrypt") < first("aggregator: send EncryptedSumChunk→1"))
        let committee = (1...3).filter { log.contains("party \($0): send PartialDecryptionChunk") }
        #expect(committee.count == 2, "the committee is t = 2 contributors: \(log)")
        for party in 1...3 {
            let who = "party \(party)"
            let commit = try #require(log.firstIndex { $0.hasPrefix("\(who): commit") }, "\(who) never committed")
            #expect(log.filter { $0.hasPrefix("\(who): commit") }.count == 1)
            if committee.contains(party) {
                #expect(commit < (try first("\(who): send PartialDecryptionChunk")))
            } else {
                // A stand-in commits when the result arrives (it holds its data too).
                #expect(commit > (try first("aggregator: send ResultChunk→\(party)")))
            }
            guard case .released? = round.parties[party]!.outcome else {
                Issue.record("\(who): \(String(describing: round.parties[party]!.outcome))")
                continue
            }
        }
    }

    @Test func aPhaseTheStoreCannotRecordEndsTheRoundBeforeItsMessagesLeave() throws {
        let (round, books) = try Self.run(failing: { $0 == "aggregator: persist advertise" })
        let (phase, reason) = try aborted(round.aggregator.outcome)
        #expect(phase == .advertise)
        #expect(reason.contains("cannot record the round's state: the disk is full"), "\(reason)")
        #expect(!books.log.contains { $0.hasPrefix("aggregator: send RoundOpen") }, "\(books.log)")
        // The charge goes back, the abort is recorded, and every joined party is told.
        #expect(books.log.contains("aggregator: cancel 1"))
        #expect(books.log.contains("aggregator: persist aborted"))
        #expect(books.log.filter { $0.hasPrefix("aggregator: send Abort") }.count == 3)
    }

    @Test func aReleaseTheLedgerCannotCommitIsNeverSent() throws {
        let (round, books) = try Self.run(failing: { $0 == "aggregator: commit 1" })
        let (phase, reason) = try aborted(round.aggregator.outcome)
        #expect(phase == .release)
        #expect(reason.contains("cannot record the release"), "\(reason)")
        #expect(!books.log.contains { $0.hasPrefix("aggregator: send ResultChunk") || $0.hasPrefix("aggregator: released") })
        // Never cancelled: the sum may have been opened by the parties' shares.
        #expect(!books.log.contains("aggregator: cancel 1"))
    }

    @Test func anAbortNamesWhatItsWritesCouldNotRecord() throws {
        let (round, books) = try Self.run(failing: {
            $0 == "aggregator: persist advertise" || $0 == "aggregator: cancel 1" || $0 == "aggregator: persist aborted"
        })
        let (_, reason) = try aborted(round.aggregator.outcome)
        #expect(reason.contains("its reservation 1 stays held: the disk is full"), "\(reason)")
        #expect(reason.contains("the round store could not record the abort: the disk is full"), "\(reason)")
        // The parties are told all the same.
        #expect(books.log.filter { $0.hasPrefix("aggregator: send Abort") }.count == 3)
    }

    @Test func aLedgerThatRefusesTheAggregatorsChargeAbortsAtJoin() throws {
        let (round, books) = try Self.run(failing: { $0 == "aggregator: reserve" })
        let (phase, reason) = try aborted(round.aggregator.outcome)
        #expect(phase == .join)
        #expect(reason.contains("the federation ledger refuses the round"), "\(reason)")
        #expect(!books.log.contains { $0.hasPrefix("aggregator: cancel") || $0.hasPrefix("aggregator: send RoundOpen") })
    }

    @Test func aPartyWhoseLedgerRefusesRefusesTheRound() throws {
        let (round, books) = try Self.run(failing: { $0 == "party 2: reserve" })
        guard case .refused(let reason)? = round.parties[2]!.outcome else {
            Issue.record("expected a refusal, got \(String(describing: round.parties[2]!.outcome))")
            return
        }
        #expect(reason.contains("party 2: its own ledger refuses round 7"), "\(reason)")
        #expect(books.log.contains("party 2: send RoundRefuse"))
        #expect(!books.log.contains { $0.hasPrefix("party 2: send SecAggAdvertiseKeys") })
        // The others go on without it.
        #expect(try released(round.aggregator.outcome).contributors == [1, 3])
    }

    @Test func aPartyThatCannotCommitNeverSendsItsOpeningShares() throws {
        let (round, books) = try Self.run(failing: { $0.hasPrefix("party 3: commit") })
        #expect(!books.log.contains("party 3: send SecAggUnmaskingResponse"), "\(books.log)")
        #expect(books.log.contains("party 3: send Error"))
        guard case .aborted(_, let reason, _)? = round.parties[3]!.outcome else {
            Issue.record("expected party 3 to stop, got \(String(describing: round.parties[3]!.outcome))")
            return
        }
        #expect(reason.contains("the disk is full"))
        // The reservation stays pending, which still holds the charge.
        #expect(round.parties[3]!.settlement == .heldPending(reservation: 4, reason: "the disk is full"))
    }

    @Test func aLostConnectionSettlesForTheWorstCase() throws {
        // Before its data left: the reservation is cancelled.
        var round = try Round()
        var books = Books()
        Self.run(&round, books: &books) { $0.parties[1]!.reservation != nil }
        var party = round.parties[1]!
        let reservation = try #require(party.reservation)
        let beforeContributing = party.connectionLost(reason: "cut")
        guard case .cancel(reservation)? = beforeContributing.first, beforeContributing.count == 1 else {
            Issue.record("expected one cancel, got \(beforeContributing)")
            return
        }
        #expect(party.settlement == .cancelled(reservation: reservation.id))
        #expect(party.failed(beforeContributing[0], error: Refusal()) == nil)
        #expect(party.settlement == .heldPending(reservation: reservation.id, reason: "the disk is full"))

        // After its masked input left: the charge is committed, released or not.
        round = try Round()
        Self.run(&round, books: &books) { $0.parties[1]!.contributed }
        party = round.parties[1]!
        let afterContributing = party.connectionLost(reason: "cut")
        guard case .commit(let committed)? = afterContributing.first, afterContributing.count == 1 else {
            Issue.record("expected one commit, got \(afterContributing)")
            return
        }
        #expect(party.settlement == .committed(reservation: committed.id))
        #expect(party.failed(afterContributing[0], error: Refusal()) == nil)
        #expect(party.settlement == .heldPending(reservation: committed.id, reason: "the disk is full"))
        #expect(!party.committed)
    }

    /// The code an `Error` carries on the wire comes from the error's case: an impostor is an
    /// identity error, a message of another round a wrong-round error.
    @Test func wireErrorCodesComeFromTheCase() throws {
        let hash = try Round().plan.manifestHash
        func errorCode(_ envelope: PartyRound.Message, from party: Int) throws -> String? {
            var round = try Round()
            var books = Books()
            var random = SeededRandom(seed: 1)
            let out = books.perform(
                round.aggregator.receive(envelope, from: party), on: &round.aggregator, who: "aggregator",
                using: &random
            ) { Envelopes.name($0.envelope.body) }
            guard case .error(let error)? = out.first?.envelope.body else { return nil }
            return "\(error.code)"
        }
        // Party 3's certificate, claiming to be party 2.
        #expect(try errorCode(Envelopes.party(2, round: 0, manifestHash: hash, .hello(.init())), from: 3) == "errorIdentity")
        // Party 1 speaks of round 8 while round 7 runs.
        #expect(try errorCode(Envelopes.party(1, round: 8, manifestHash: hash, .accept(.init())), from: 1) == "errorWrongRound")
        // Party 2 sends an accept before the round opened.
        #expect(try errorCode(Envelopes.party(2, round: 7, manifestHash: hash, .accept(.init())), from: 2) == "errorUnexpectedMessage")
    }
}
