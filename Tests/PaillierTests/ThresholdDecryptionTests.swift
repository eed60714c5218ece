import Arithmetic
import Foundation
import Primitives
import Testing
@testable import Paillier

/// All k-subsets of `items`, in lexicographic order.
func subsets<T>(of items: [T], size: Int) -> [[T]] {
    guard size > 0 else { return [[]] }
    guard items.count >= size else { return [] }
    var result: [[T]] = []
    for (index, first) in items.enumerated() {
        for rest in subsets(of: Array(items[(index + 1)...]), size: size - 1) {
            result.append([first] + rest)
        }
    }
    return result
}

/// A small threshold set-up: a key dealt from the 512-bit fixture's primes, a batch of
/// ciphertexts of known plaintexts, and every party's decryption share of that batch.
struct ThresholdScenario {
    let fixture: LoadedThresholdFixture
    let publicKey: ThresholdPublicKey
    let keyShares: [ThresholdKeyShare]
    let plaintexts: [BigInt]
    let ciphertexts: [BigInt]
    let context: [UInt8]
    let decryptionShares: [ThresholdDecryptionShare]

    init(threshold: Int, parties: Int, bits: Int = 512, batch: Int = 3, seed: UInt64 = 7) throws {
        fixture = try ThresholdFixture.load(bits: bits)
        (publicKey, keyShares) = try fixture.deal(threshold: threshold, parties: parties, seed: seed)
        var random = SeededRandom(seed: seed &+ 1)
        let n = publicKey.n
        var messages: [BigInt] = [0, n - 1]
        while messages.count < batch { messages.append(BigInt.random(below: n, using: &random)) }
        plaintexts = Array(messages.prefix(batch))
        ciphertexts = plaintexts.map { TextbookPaillier.encrypt($0, n: n, using: &random) }
        context = Array("round-42".utf8)
        let publicKey = publicKey
        let ciphertexts = ciphertexts
        let context = context
        decryptionShares = try keyShares.map { share in
            try share.decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random)
        }
    }

    func shares(of parties: [Int]) -> [ThresholdDecryptionShare] {
        parties.map { decryptionShares[$0 - 1] }
    }
}

@Suite struct ThresholdDecryptionTests {
    static let configurations: [(Int, Int)] = [(2, 3), (3, 5), (5, 7)]

    @Test(arguments: configurations)
    func everyThresholdSubsetDecrypts(threshold: Int, parties: Int) throws {
        let scenario = try ThresholdScenario(threshold: threshold, parties: parties)
        for subset in subsets(of: Array(1...parties), size: threshold) {
            let result = try scenario.publicKey.combine(
                scenario.shares(of: subset), for: scenario.ciphertexts, context: scenario.context)
            #expect(result.plaintexts == scenario.plaintexts, "subset \(subset)")
            #expect(result.usedParties == subset)
            #expect(result.rejected.isEmpty)
        }
    }

    @Test(arguments: configurations)
    func fewerThanThresholdSharesDoNotDecrypt(threshold: Int, parties: Int) throws {
        let scenario = try ThresholdScenario(threshold: threshold, parties: parties)
        for subset in subsets(of: Array(1...parties), size: threshold - 1) {
            // The API refuses, naming the missing parties…
            do {
                _ = try scenario.publicKey.combine(
                    scenario.shares(of: subset), for: scenario.ciphertexts, context: scenario.context)
                Issue.record("t − 1 shares combined for subset \(subset)")
            } catch let error as ThresholdError {
                guard case .notEnoughShares(let needed, let valid, let rejected, let missing) = error else {
                    Issue.record("unexpected error \(error)")
                    continue
                }
                #expect(needed == threshold)
                #expect(valid == subset)
                #expect(rejected.isEmpty)
                #expect(missing == Array(1...parties).filter { !subset.contains($0) })
            }
            // …and the arithmetic itself, forced with t − 1 shares, yields no plaintext.
            let forced = scenario.publicKey.combineUnchecked(
                subset.map { (party: $0, values: scenario.decryptionShares[$0 - 1].values) },
                count: scenario.ciphertexts.count)
            for (index, value) in forced.enumerated() where index > 0 {
                #expect(value != scenario.plaintexts[index], "subset \(subset) recovered plaintext \(index)")
            }
        }
    }

    @Test(arguments: configurations)
    func thresholdDecryptionEqualsCRTDecryption(threshold: Int, parties: Int) throws {
        let scenario = try ThresholdScenario(threshold: threshold, parties: parties, batch: 6, seed: 99)
        let result = try scenario.publicKey.combine(
            scenario.decryptionShares, for: scenario.ciphertexts, context: scenario.context)
        let crt = scenario.ciphertexts.map { TextbookPaillier.decryptCRT($0, p: scenario.fixture.p, q: scenario.fixture.q) }
        #expect(result.plaintexts == crt)
        #expect(crt == scenario.plaintexts)
        #expect(result.usedParties == Array(1...threshold))
        #expect(result.spareParties == Array((threshold + 1)...parties))
    }

    @Test func homomorphicSumDecrypts() throws {
        // Sum of encrypted vectors from several "worlds", decrypted by the threshold.
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        let key = scenario.publicKey
        var random = SeededRandom(seed: 5)
        let worlds: [[Int]] = [[1, 2, 3, 4], [10, 20, 30, 40], [100, 200, 300, 400]]
        let encrypted = worlds.map { $0.map { TextbookPaillier.encrypt(BigInt($0), n: key.n, using: &random) } }
        let sums = (0..<4).map { slot in
            encrypted.dropFirst().reduce(encrypted[0][slot]) { $0.multiplied(by: $1[slot], modulo: key.nSquared) }
        }
        let shares = try [2, 4, 5].map {
            try scenario.keyShares[$0 - 1].decryptionShare(for: sums, publicKey: key, context: [1, 2], using: &random)
        }
        let result = try key.combine(shares, for: sums, context: [1, 2])
        #expect(result.plaintexts == [111, 222, 333, 444].map { BigInt($0) })
    }

    @Test func twoThousandFortyEightBitFixtureDecryptsAndMatchesCRT() throws {
        let fixture = try ThresholdFixture.load(bits: 2048)
        let key = fixture.publicKey
        var random = SeededRandom(seed: 2048)
        let messages = [BigInt(0), BigInt(123_456_789), key.n - 1]
        let ciphertexts = messages.map { TextbookPaillier.encrypt($0, n: key.n, using: &random) }
        let context = Array("round-2048".utf8)
        let shares = try [1, 3, 5].map {
            try fixture.shares[$0 - 1].decryptionShare(for: ciphertexts, publicKey: key, context: context, using: &random)
        }
        let result = try key.combine(shares, for: ciphertexts, context: context)
        #expect(result.plaintexts == messages)
        #expect(ciphertexts.map { TextbookPaillier.decryptCRT($0, p: fixture.p, q: fixture.q) } == messages)
    }

    @Test func lagrangeCoefficientsAreIntegersSummingToDelta() throws {
        let scenario = try ThresholdScenario(threshold: 5, parties: 7, batch: 1)
        let key = scenario.publicKey
        for subset in subsets(of: Array(1...7), size: 5) {
            let lambdas = key.lagrangeCoefficients(subset)
            // Σ λ_i = Δ·L(0) for the constant polynomial 1, i.e. Δ.
            #expect(lambdas.reduce(BigInt(0), +) == key.delta)
        }
    }
}
