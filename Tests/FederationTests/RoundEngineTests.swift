import Arithmetic
import Attention
import DifferentialPrivacy
import Foundation
import Primitives
import Testing

@testable import Federation

/// One drop configuration: which party stops answering at which phase.
struct DropCase: Sendable, CustomStringConvertible {
    let parties: Int
    let threshold: Int
    let drop: (party: Int, phase: RoundPhase)?

    var description: String {
        "\(parties) parties" + (drop.map { ", party \($0.party) dropped at \($0.phase.rawValue)" } ?? "")
    }

    /// The paired phase in each mode (advertise/share exist only in secure aggregation).
    func phase(for mode: String) -> RoundPhase? {
        guard let drop else { return nil }
        switch (mode, drop.phase) {
        case ("paillier", .unmask): return .decrypt
        case ("secagg", .decrypt): return .unmask
        case ("paillier", .advertise), ("paillier", .share): return nil
        default: return drop.phase
        }
    }
}

let dropCases: [DropCase] = [3, 7].flatMap { n -> [DropCase] in
    let t = n == 3 ? 2 : 4
    return [DropCase(parties: n, threshold: t, drop: nil)]
        + [RoundPhase.join, .advertise, .share, .contribute, .decrypt].map { DropCase(parties: n, threshold: t, drop: (2, $0)) }
}

@Suite("Round engine: Paillier and secure aggregation agree with the clear sum")
struct RoundEngineAgreementTests {
    @Test(arguments: dropCases)
    func modesAgreeWithClearSum(_ scenario: DropCase) throws {
        var sums: [String: [Int64]] = [:]
        for mode in ["paillier", "secagg"] {
            let phase = scenario.phase(for: mode)
            if scenario.drop != nil, phase == nil { continue }
            let harness = try Harness(parties: scenario.parties, threshold: scenario.threshold, mode: mode)
            let drops = phase.map { [scenario.drop!.party: $0] } ?? [:]
            let report = try harness.run(drops: drops)
            let result = try #require(report.result, "\(mode) \(scenario): \(report.aggregator)")

            // Who is in the sum: a party that dropped before its contribution left is excluded.
            let excluded: Set<Int> = phase.map { [.join, .advertise, .share, .contribute].contains($0) ? [scenario.drop!.party] : [] } ?? []
            let expectedContributors = (1...scenario.parties).filter { !excluded.contains($0) }
            #expect(result.contributors == expectedContributors, "\(mode) \(scenario)")
            if let drop = scenario.drop, let phase {
                let named = result.dropped.first { $0.party == drop.party }
                #expect(named != nil, "\(mode) \(scenario): party \(drop.party) not named in \(result.dropped)")
                #expect(named?.phase == phase, "\(mode) \(scenario): named at \(String(describing: named?.phase))")
            } else {
                #expect(result.dropped.isEmpty)
            }
            #expect(result.noNoise)

            // Agreement with the clear sum to the fixed-point step.
            let clear = harness.clearSum(of: expectedContributors)
            let step = FixedPointCodec(fractionalBits: 32).step * Double(expectedContributors.count)
            for (released, exact) in zip(result.matrix, clear.matrix) {
                #expect(abs(released - exact) <= step, "\(mode) \(scenario): \(released) vs \(exact)")
            }
            #expect(result.counts == clear.counts, "\(mode) \(scenario)")
            sums[mode] = result.sums

            // Every party that got the result got the same one.
            for (party, outcome) in report.parties where party != scenario.drop?.party {
                if case .released(let theirs) = outcome {
                    #expect(theirs.sums == result.sums)
                    #expect(theirs.contributors == result.contributors)
                } else {
                    Issue.record("\(mode) \(scenario): party \(party) ended with \(outcome)")
                }
            }
            // Durable state: released, once.
            let record = try #require(try harness.store.record(round: report.round))
            #expect(record.released)
            #expect(record.contributorIDs == expectedContributors)
        }
        // Same inputs, no noise: both modes produce the same integer sums (the cross-check).
        if let paillier = sums["paillier"], let secagg = sums["secagg"] {
            #expect(paillier == secagg, "\(scenario)")
        }
    }
}

@Suite("Round engine: aborts, refusals and ledgers")
struct RoundEngineFailureTests {
    @Test(arguments: ["paillier", "secagg"])
    func abortsBelowThresholdNamingMissingParties(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        let report = try harness.run(drops: [2: .contribute, 3: .contribute])
        guard case .aborted(let phase, let reason, let missing) = report.aggregator else {
            Issue.record("expected an abort, got \(report.aggregator)")
            return
        }
        #expect(phase == .contribute, "\(reason)")
        #expect(missing == [2, 3], "\(reason)")
        // The party still in the round was told, with the same names.
        guard case .aborted(_, _, let told)? = report.parties[1] else {
            Issue.record("party 1 ended with \(String(describing: report.parties[1]))")
            return
        }
        #expect(told == [2, 3])
        // Nothing was released: the aggregator's reservation went back; the durable state says so.
        let federation = try harness.aggregatorLedger.budget(dataset: harness.manifest.name)
        #expect(federation.releases == 0)
        #expect(federation.pending == 0)
        let record = try #require(try harness.store.record(round: report.round))
        #expect(!record.released)
        #expect(record.phase == RoundPhase.aborted.rawValue)
    }

    @Test(arguments: ["paillier", "secagg"])
    func abortsWhenTooFewJoin(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        let report = try harness.run(drops: [1: .join, 3: .join])
        guard case .aborted(let phase, _, let missing) = report.aggregator else {
            Issue.record("expected an abort, got \(report.aggregator)")
            return
        }
        #expect(phase == .join)
        #expect(missing == [1, 3])
    }

    @Test(arguments: ["paillier", "secagg"])
    func ledgersNeverRecordLessThanReleased(mode: String) throws {
        // With noise, one party dropped at the opening phase: every party whose data is in the
        // release holds (committed or pending) the charge; the federation ledger committed it.
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        let dropPhase: RoundPhase = mode == "paillier" ? .decrypt : .unmask
        let report = try harness.run(drops: [3: dropPhase], noNoise: false)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(!result.noNoise)
        #expect(result.contributors == [1, 2, 3])
        let dataset = harness.manifest.name
        let federation = try harness.aggregatorLedger.budget(dataset: dataset)
        #expect(federation.releases == 1)
        #expect(federation.pending == 0)
        let history = try harness.aggregatorLedger.history()
        #expect(history.contains { $0.kind == .commit && $0.reservation == result.ledgerEntryID })
        for party in result.contributors {
            let budget = try harness.partyLedgers[party]!.budget(dataset: dataset)
            #expect(budget.releases + budget.pending == 1, "party \(party): \(budget)")
            #expect(budget.spentEpsilon + budget.heldEpsilon > 0, "party \(party): \(budget)")
            // The parties that opened the sum committed before their share left.
            if party != 3 { #expect(budget.releases == 1, "party \(party): \(budget)") }
        }
        // The noisy release stays near the clear sum (σ is about 20 per coordinate here).
        let clear = harness.clearSum(of: [1, 2, 3])
        for (released, exact) in zip(result.matrix, clear.matrix) { #expect(abs(released - exact) < 400) }
    }

    @Test(arguments: ["paillier", "secagg"])
    func partyRefusesWhenItsCapWouldBeExceeded(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        // Party 1's own cap is far below one round's charge.
        try harness.partyLedgers[1]!.setCap(dataset: harness.manifest.name, epsilon: 0.01, delta: 1e-9)
        let report = try harness.run(noNoise: false)
        guard case .refused(let reason)? = report.parties[1] else {
            Issue.record("party 1 ended with \(String(describing: report.parties[1]))")
            return
        }
        #expect(reason.contains("ledger"), "\(reason)")
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [2, 3])
        let named = try #require(result.dropped.first { $0.party == 1 })
        #expect(named.phase == .join)
        #expect(named.reason.contains("refused"))
        let budget = try harness.partyLedgers[1]!.budget(dataset: harness.manifest.name)
        #expect(budget.releases == 0 && budget.pending == 0)
    }

    @Test func capsStopRepeatedRounds() throws {
        // Budget for one round (ε ≈ 1 each; two compose to ≈ 1.45): the second round is refused by every party's own ledger.
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg", epsilonBudget: 1.2)
        let first = try harness.run(noNoise: false)
        #expect(first.result != nil, "\(first.aggregator)")
        let second = try harness.run(noNoise: false)
        guard case .aborted(let phase, _, _) = second.aggregator else {
            Issue.record("expected the second round to stop, got \(second.aggregator)")
            return
        }
        #expect(phase == .join)
        #expect(second.round == first.round + 1)
        for party in 1...3 {
            let budget = try harness.partyLedgers[party]!.budget(dataset: harness.manifest.name)
            #expect(budget.releases == 1)
        }
    }

    @Test func partyRefusesNoNoiseOutsideSimulations() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        var party = try PartyRound(
            party: 1, manifest: harness.manifest, contribution: harness.data[1]!,
            credentials: try harness.credentials(1))
        let partyBooks = RoundBookkeeper(ledger: harness.partyLedgers[1]!)
        var random = SeededRandom(seed: 3)
        let plan = try RoundPlan(manifest: harness.manifest)
        var aggregator = try AggregatorRound(plan: plan, round: 9, parties: [1, 2, 3], key: nil, noNoise: true, using: &random)
        let books = RoundBookkeeper(ledger: harness.aggregatorLedger)
        var out = aggregator.step(books) { $0.receive(party.hello(), from: 1) }
        out += aggregator.step(books) { $0.receive(Envelopes.party(2, round: 0, manifestHash: plan.manifestHash, .hello(.init())), from: 2) }
        out += aggregator.step(books) { $0.receive(Envelopes.party(3, round: 0, manifestHash: plan.manifestHash, .hello(.init())), from: 3) }
        func isOpen(_ message: OutgoingMessage) -> Bool {
            if case .open = message.envelope.body { return message.party == 1 }
            return false
        }
        let open = try #require(out.first(where: isOpen))
        let replies = party.step(partyBooks, using: &random) { $0.receive(open.envelope, using: &$1) }
        guard case .refuse(let refuse)? = replies.first?.body else {
            Issue.record("expected a refusal, got \(replies)")
            return
        }
        #expect(refuse.message.contains("no_noise"))
    }

    @Test func aggregatorCutsOffAnImpostorAndProceeds() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        var random = SeededRandom(seed: 5)
        let plan = try RoundPlan(manifest: harness.manifest)
        var aggregator = try AggregatorRound(plan: plan, round: 1, parties: [1, 2, 3], key: nil, using: &random)
        let books = RoundBookkeeper(ledger: harness.aggregatorLedger)
        // Party 3's certificate, claiming to be party 2.
        let claim = Envelopes.party(2, round: 0, manifestHash: plan.manifestHash, .hello(.init()))
        let out = aggregator.step(books) { $0.receive(claim, from: 3) }
        guard case .error(let error)? = out.first?.envelope.body else {
            Issue.record("expected an error, got \(out)")
            return
        }
        #expect(error.message.contains("claims party 2"))
        #expect(aggregator.dropped[3] != nil)
        #expect(aggregator.waitingFor == [1, 2])
    }
}

@Suite("Round engine: hostile parties are cut off and named")
struct RoundEngineHostileTests {
    @Test func badPartialDecryptionIsNamedAndDropped() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party == 2, case .partialDecryption(var chunk) = envelope.body else { return envelope }
            var value = [UInt8](chunk.values[0])
            value[value.count - 1] ^= 1
            chunk.values[0] = Data(value)
            var tampered = envelope
            tampered.body = .partialDecryption(chunk)
            return tampered
        }
        var random = SeededRandom(seed: 11)
        let report = try federation.run(using: &random)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2, 3])
        let named = try #require(result.dropped.first { $0.party == 2 })
        #expect(named.phase == .decrypt)
        #expect(named.reason.contains("proof"), "\(named.reason)")
        let clear = harness.clearSum(of: [1, 2, 3])
        for (released, exact) in zip(result.matrix, clear.matrix) { #expect(abs(released - exact) <= 3 * 0x1p-32) }
    }

    @Test(arguments: ["paillier", "secagg"])
    func malformedContributionCutsThePartyOff(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party == 3 else { return envelope }
            var tampered = envelope
            switch envelope.body {
            case .contribution(var chunk):
                // A ciphertext of 0 is outside Z*_{n²}.
                var bytes = [UInt8](chunk.ciphertexts)
                for i in 45..<bytes.count { bytes[i] = 0 }
                chunk.ciphertexts = Data(bytes)
                tampered.body = .contribution(chunk)
            case .maskedInput(var chunk):
                chunk.words.removeLast()  // the wrong length
                tampered.body = .maskedInput(chunk)
            default: break
            }
            return tampered
        }
        var random = SeededRandom(seed: 12)
        let report = try federation.run(using: &random)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2])
        let named = try #require(result.dropped.first { $0.party == 3 })
        #expect(named.phase == .contribute, "\(named)")
        let clear = harness.clearSum(of: [1, 2])
        for (released, exact) in zip(result.matrix, clear.matrix) { #expect(abs(released - exact) <= 2 * 0x1p-32) }
        // The offender was told why.
        guard case .aborted(_, let reason, _)? = report.parties[3] else {
            Issue.record("party 3 ended with \(String(describing: report.parties[3]))")
            return
        }
        #expect(reason.contains("aggregator reports"), "\(reason)")
    }

    @Test func replayedMessageFromAnotherRoundIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party == 1, case .advertiseKeys = envelope.body else { return envelope }
            var replayed = envelope
            replayed.roundID &+= 1000
            return replayed
        }
        var random = SeededRandom(seed: 13)
        let report = try federation.run(using: &random)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [2, 3])
        let named = try #require(result.dropped.first { $0.party == 1 })
        #expect(named.reason.contains("round"), "\(named.reason)")
    }

    @Test func partyWithAnotherManifestIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party == 3 else { return envelope }
            var other = envelope
            other.manifestHash = Data(repeating: 7, count: 32)
            return other
        }
        var random = SeededRandom(seed: 14)
        let report = try federation.run(using: &random)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2])
        let named = try #require(result.dropped.first { $0.party == 3 })
        #expect(named.phase == .join)
        #expect(named.reason.contains("manifest hash"), "\(named.reason)")
    }
}
