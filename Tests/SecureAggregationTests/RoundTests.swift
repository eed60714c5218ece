import Arithmetic
import Foundation
import Primitives
import Testing

@testable import SecureAggregation

/// Random inputs and their exact sum mod 2^64 over a set of parties.
func randomInputs(parties: Int, length: Int, rng: inout SeededRandom) -> [[UInt64]] {
    (0..<parties).map { _ in (0..<length).map { _ in rng.next() } }
}

func expectedSum(_ inputs: [[UInt64]], over parties: some Sequence<Int>) -> [UInt64] {
    var total = [UInt64](repeating: 0, count: inputs[0].count)
    for party in parties {
        for index in total.indices { total[index] &+= inputs[party][index] }
    }
    return total
}

@Suite struct RoundTests {
    @Test(arguments: [3, 5, 10, 25])
    func sumOfRandomVectorsIsExact(parties: Int) throws {
        var rng = SeededRandom(seed: UInt64(parties))
        let threshold = parties / 2 + 1
        let config = try SecAggConfiguration(
            parties: parties, threshold: threshold, vectorLength: 33,
            sessionNonce: [1, 2, 3], round: 7)
        let inputs = randomInputs(parties: parties, length: 33, rng: &rng)
        let report = try InMemorySecAggRound(configuration: config, inputs: inputs).run(using: &rng)
        let result = try #require(report.result)
        #expect(result.sum == expectedSum(inputs, over: 0..<parties))
        #expect(result.contributors == Array(0..<parties))
        #expect(result.dropouts.isEmpty)
        #expect(report.clientAborts.isEmpty)
    }

    @Test(arguments: [3, 5, 10, 25])
    func sparseGraphSumIsExact(parties: Int) throws {
        // A Harary graph exists only when its degree is below n − 1.
        guard parties >= 5 else { return }
        var rng = SeededRandom(seed: UInt64(1000 + parties))
        let degree = parties >= 10 ? 6 : 2
        let config = try SecAggConfiguration(parties: parties, threshold: 3, vectorLength: 17, graph: .harary(degree: degree))
        let inputs = randomInputs(parties: parties, length: 17, rng: &rng)
        let report = try InMemorySecAggRound(configuration: config, inputs: inputs).run(using: &rng)
        #expect(report.result?.sum == expectedSum(inputs, over: 0..<parties))
    }

    /// The drop points of a round without the consistency check (ConsistencyCheckTests covers
    /// `duringConsistencyCheck`, which exists only with the check).
    static let uncheckedDropPoints = InMemorySecAggRound.DropPoint.allCases.filter { $0 != .duringConsistencyCheck }

    static let dropCases: [(InMemorySecAggRound.DropPoint, SecAggGraph)] =
        uncheckedDropPoints.flatMap { point in [(point, .complete), (point, .harary(degree: 6))] }

    /// Dropouts at every step: the sum is that of exactly the parties whose masked input was
    /// counted, and each dropout is recorded with its phase.
    @Test(arguments: dropCases)
    func dropoutsAtEveryStep(point: InMemorySecAggRound.DropPoint, graph: SecAggGraph) throws {
        var rng = SeededRandom(seed: 99)
        let parties = 12
        let threshold = graph == .complete ? 7 : 4
        let config = try SecAggConfiguration(parties: parties, threshold: threshold, vectorLength: 20, graph: graph)
        let inputs = randomInputs(parties: parties, length: 20, rng: &rng)
        let dropped = [2, 7]
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs,
            dropouts: Dictionary(uniqueKeysWithValues: dropped.map { ($0, point) })
        ).run(using: &rng)
        let result = try #require(report.result, "aborted: \(String(describing: report.abortReason))")
        let counted = point == .duringUnmasking ? Array(0..<parties) : (0..<parties).filter { !dropped.contains($0) }
        #expect(result.contributors == counted)
        #expect(result.sum == expectedSum(inputs, over: counted))
        for party in dropped { #expect(result.dropouts[party] == point.phase) }
        #expect(report.clientAborts.isEmpty)
    }

    /// Below the threshold the round aborts cleanly, naming the missing parties.
    @Test(arguments: uncheckedDropPoints)
    func belowThresholdAbortsNamingMissingParties(point: InMemorySecAggRound.DropPoint) throws {
        var rng = SeededRandom(seed: 5)
        let config = try SecAggConfiguration(parties: 5, threshold: 4, vectorLength: 8)
        let inputs = randomInputs(parties: 5, length: 8, rng: &rng)
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs,
            dropouts: [1: point, 3: point]
        ).run(using: &rng)
        #expect(report.result == nil)
        guard case .tooFewParties(let phase, let remaining, let needed, let missing) = report.abortReason else {
            Issue.record("expected tooFewParties, got \(String(describing: report.abortReason))")
            return
        }
        #expect(phase == point.phase)
        #expect(remaining == 3)
        #expect(needed == 4)
        #expect(missing == [1, 3])
    }

    /// Dropouts spread over several phases in one round.
    @Test func dropoutsInSeveralPhases() throws {
        var rng = SeededRandom(seed: 17)
        let config = try SecAggConfiguration(parties: 10, threshold: 5, vectorLength: 16)
        let inputs = randomInputs(parties: 10, length: 16, rng: &rng)
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs,
            dropouts: [0: .beforeAdvertise, 3: .duringShareKeys, 5: .duringMaskedInput, 9: .duringUnmasking]
        ).run(using: &rng)
        let result = try #require(report.result)
        let counted = [1, 2, 4, 6, 7, 8, 9]
        #expect(result.contributors == counted)
        #expect(result.sum == expectedSum(inputs, over: counted))
        #expect(result.dropouts == [0: .advertiseKeys, 3: .shareKeys, 5: .maskedInput, 9: .unmasking])
    }

    @Test func fullAndSparseGraphsAgree() throws {
        var rng = SeededRandom(seed: 2024)
        let parties = 16
        let inputs = randomInputs(parties: parties, length: 40, rng: &rng)
        let dropouts: [Int: InMemorySecAggRound.DropPoint] = [4: .duringMaskedInput, 11: .duringShareKeys]
        let full = try SecAggConfiguration(parties: parties, threshold: 9, vectorLength: 40)
        let sparse = try SecAggConfiguration(parties: parties, threshold: 4, vectorLength: 40, graph: .harary(degree: 6))
        let a = try InMemorySecAggRound(configuration: full, inputs: inputs, dropouts: dropouts).run(using: &rng)
        let b = try InMemorySecAggRound(configuration: sparse, inputs: inputs, dropouts: dropouts).run(using: &rng)
        let fullResult = try #require(a.result)
        let sparseResult = try #require(b.result)
        #expect(fullResult.sum == sparseResult.sum)
        #expect(fullResult.contributors == sparseResult.contributors)
        #expect(fullResult.sum == expectedSum(inputs, over: fullResult.contributors))
    }

    /// Reals through the shared fixed-point codec: the sum is Σ round(x·2^f) exactly, the same
    /// integers the Paillier path adds.
    @Test func fixedPointInputsSumToTheSameIntegers() throws {
        var rng = SeededRandom(seed: 8)
        let codec = FixedPointCodec(fractionalBits: 24)
        let parties = 6
        let reals = (0..<parties).map { _ in (0..<12).map { _ in Double.random(in: -1000...1000, using: &rng) } }
        let inputs = try reals.map { try $0.map(codec.encodeToRing64) }
        let config = try SecAggConfiguration(parties: parties, threshold: 4, vectorLength: 12)
        let report = try InMemorySecAggRound(configuration: config, inputs: inputs).run(using: &rng)
        let sum = try #require(report.result?.sum)
        for index in 0..<12 {
            let integerSum = try reals.reduce(Int64(0)) { $0 + (try codec.encode($1[index])) }
            #expect(Int64(bitPattern: sum[index]) == integerSum)
            let realSum = reals.reduce(0.0) { $0 + $1[index] }
            #expect(abs(codec.decodeFromRing64(sum[index]) - realSum) <= Double(parties) * codec.step)
        }
    }

    @Test func messagesRoundTripThroughCodable() throws {
        var rng = SeededRandom(seed: 1)
        let config = try SecAggConfiguration(parties: 3, threshold: 2, vectorLength: 4)
        let client = try SecAggClient(id: 1, configuration: config, input: [1, 2, 3, 4], using: &rng)
        let message = client.advertiseKeys()
        let data = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(ClientMessage.self, from: data) == message)
    }
}
