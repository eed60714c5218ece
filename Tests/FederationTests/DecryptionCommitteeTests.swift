import Foundation
import Primitives
import Synchronization
import Testing

@testable import Federation

/// Paillier rounds ask t contributors for partial decryptions and the others only when one
/// of those fails; `everyone` asks every contributor at once.
@Suite("Decryption committee: t contributors decrypt, stand-ins replace those that fail")
struct DecryptionCommitteeTests {
    /// Runs a round and returns its report with the parties that sent partial decryptions.
    func run(
        _ harness: Harness, drops: [Int: RoundPhase] = [:], committee: DecryptionCommittee = .threshold,
        tamper: Int? = nil
    ) throws -> (report: InMemoryFederation.Report, decrypted: [Int]) {
        var federation = try harness.federation(drops: drops)
        federation.decryptionCommittee = committee
        let senders = Mutex(Set<Int>())
        federation.rewrite = { party, envelope in
            guard case .partialDecryption(var chunk) = envelope.body else { return [envelope] }
            senders.withLock { _ = $0.insert(party) }
            guard party == tamper, chunk.hasBatchProof else { return [envelope] }
            var response = [UInt8](chunk.batchProof.response)
            response[response.count - 1] ^= 1
            chunk.batchProof.response = Data(response)
            var tampered = envelope
            tampered.body = .partialDecryption(chunk)
            return [tampered]
        }
        var random = SeededRandom(seed: 11)
        let report = try federation.run(using: &random)
        return (report, senders.withLock { $0.sorted() })
    }

    /// Every party of the release got it and holds the committed charge, asked or not.
    func expectReleasedEverywhere(_ harness: Harness, _ report: InMemoryFederation.Report, except dropped: Set<Int> = []) throws {
        let result = try #require(report.result, "\(report.aggregator)")
        for (party, outcome) in report.parties where !dropped.contains(party) {
            guard case .released(let theirs) = outcome else {
                Issue.record("party \(party) ended with \(outcome)")
                continue
            }
            #expect(theirs.sums == result.sums)
        }
        for party in result.contributors {
            let budget = try harness.partyLedgers[party]!.budget(dataset: harness.manifest.name)
            #expect(budget.releases + budget.pending == 1, "party \(party): \(budget)")
            if !dropped.contains(party) { #expect(budget.releases == 1, "party \(party): \(budget)") }
        }
        let clear = harness.clearSum(of: result.contributors)
        #expect(result.counts == clear.counts)
    }

    @Test(arguments: [(3, 2), (5, 3)])
    func onlyTheFirstTContributorsDecrypt(parties: Int, threshold: Int) throws {
        let harness = try Harness(parties: parties, threshold: threshold, mode: "paillier")
        let (report, decrypted) = try run(harness)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == Array(1...parties))
        #expect(result.dropped.isEmpty, "\(result.dropped)")
        // In memory, contributions complete in party order: parties 1…t are the committee.
        #expect(decrypted == Array(1...threshold))
        try expectReleasedEverywhere(harness, report)
    }

    @Test func everyoneDecryptsWhenAsked() throws {
        let harness = try Harness(parties: 5, threshold: 3, mode: "paillier")
        let (report, decrypted) = try run(harness, committee: .everyone)
        #expect(try #require(report.result).dropped.isEmpty)
        #expect(decrypted == [1, 2, 3, 4, 5])
        try expectReleasedEverywhere(harness, report)
    }

    @Test func committeeMembersThatDieAreReplacedInTurn() throws {
        // Parties 1 and 2 of the committee {1, 2, 3} die as they would decrypt: 4 and 5 stand in.
        let harness = try Harness(parties: 5, threshold: 3, mode: "paillier")
        let (report, decrypted) = try run(harness, drops: [1: .decrypt, 2: .decrypt])
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2, 3, 4, 5])
        #expect(result.dropped.map(\.party) == [1, 2] && result.dropped.allSatisfy { $0.phase == .decrypt }, "\(result.dropped)")
        #expect(decrypted == [3, 4, 5])
        try expectReleasedEverywhere(harness, report, except: [1, 2])
    }

    @Test func aBadShareIsReplacedByAStandIn() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let (report, decrypted) = try run(harness, tamper: 1)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2, 3])
        let named = try #require(result.dropped.first)
        #expect(result.dropped.count == 1 && named.party == 1 && named.phase == .decrypt, "\(result.dropped)")
        #expect(named.reason.contains("bad partial decryption"), "\(named.reason)")
        #expect(decrypted == [1, 2, 3])
        try expectReleasedEverywhere(harness, report, except: [1])
    }

    @Test func withNoStandInLeftTheRoundAbortsNamingTheOffender() throws {
        // Party 3 never contributes, so nobody can replace party 1's bad share.
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let (report, decrypted) = try run(harness, drops: [3: .contribute], tamper: 1)
        guard case .aborted(let phase, let reason, let missing) = report.aggregator else {
            Issue.record("expected an abort, got \(report.aggregator)")
            return
        }
        #expect(phase == .decrypt)
        #expect(missing == [1, 3], "\(reason)")
        #expect(reason.contains("threshold decryption failed"), "\(reason)")
        #expect(decrypted == [1, 2])
    }
}
