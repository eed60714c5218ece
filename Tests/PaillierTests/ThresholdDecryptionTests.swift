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

/// A small threshold set-up: a key dealt from the 512-bit fixture's primes; every party
/// ("world") packs a vector of signed values, encrypts it with the plain Paillier engine, and
/// the packed ciphertexts are summed homomorphically; the batch to decrypt is those sums plus
/// encryptions of edge values (0, n − 1, random); every party's decryption share of it.
struct ThresholdScenario {
    static let vectorLength = 60

    let fixture: LoadedThresholdFixture
    let publicKey: ThresholdPublicKey
    let keyShares: [ThresholdKeyShare]
    let layout: SlotLayout
    let vectors: [[Int64]]
    /// The number of packed-sum ciphertexts at the front of the batch.
    let packedCount: Int
    let plaintexts: [BigInt]
    let ciphertexts: [PaillierCiphertext]
    let context: [UInt8]
    let decryptionShares: [ThresholdDecryptionShare]

    init(threshold: Int, parties: Int, bits: Int = 512, extra: Int = 3, seed: UInt64 = 7) throws {
        fixture = try ThresholdFixture.load(bits: bits)
        (publicKey, keyShares) = try fixture.deal(threshold: threshold, parties: parties, seed: seed)
        var random = SeededRandom(seed: seed &+ 1)
        let key = publicKey.paillierKey
        let n = key.n

        let layout = try SlotLayout(valueBound: 1000, noiseBound: 24, parties: parties, modulusBits: key.bitWidth)
        self.layout = layout
        let vectors = (0..<parties).map { _ in
            (0..<ThresholdScenario.vectorLength).map { _ in Int64.random(in: -1024...1024, using: &random) }
        }
        self.vectors = vectors
        let packed = try vectors.map { try layout.pack($0) }
        let packedCount = packed[0].count
        self.packedCount = packedCount
        let packedSums = (0..<packedCount).map { index in packed.reduce(BigInt(0)) { $0 + $1[index] } }
        var encryptedSums: [PaillierCiphertext] = []
        for index in 0..<packedCount {
            let parts = try packed.map { try key.encrypt($0[index], method: .plain, using: &random) }
            guard let sum = key.sum(parts) else { throw PaillierError.invalidParameters("no parties") }
            encryptedSums.append(sum)
        }

        var edges: [BigInt] = [0, n - 1]
        while edges.count < extra { edges.append(BigInt.random(below: n, using: &random)) }
        edges = Array(edges.prefix(extra))
        let encryptedEdges = try edges.map { try key.encrypt($0, method: .fast, using: &random) }

        plaintexts = packedSums + edges
        ciphertexts = encryptedSums + encryptedEdges
        context = Array("round-42".utf8)
        let publicKey = publicKey
        let ciphertexts = ciphertexts
        let context = context
        decryptionShares = try keyShares.map { share in
            try share.decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random)
        }
    }

    /// The slot-wise sum of every party's vector.
    var expectedSums: [Int64] {
        (0..<ThresholdScenario.vectorLength).map { index in vectors.reduce(0) { $0 + $1[index] } }
    }

    func shares(of parties: [Int]) -> [ThresholdDecryptionShare] {
        parties.map { decryptionShares[$0 - 1] }
    }

    /// The batch's raw values.
    var values: [BigInt] { ciphertexts.map(\.value) }
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
            // The packed sums unpack to the slot-wise sums of every world's vector.
            let values = try scenario.layout.unpackSum(
                Array(result.plaintexts.prefix(scenario.packedCount)), count: ThresholdScenario.vectorLength,
                contributors: parties)
            #expect(values == scenario.expectedSums, "subset \(subset)")
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
            } catch let error as PaillierError {
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
            for (index, value) in forced.enumerated() where !scenario.plaintexts[index].isZero {
                #expect(value != scenario.plaintexts[index], "subset \(subset) recovered plaintext \(index)")
            }
        }
    }

    @Test(arguments: configurations)
    func thresholdDecryptionEqualsCRTDecryption(threshold: Int, parties: Int) throws {
        let scenario = try ThresholdScenario(threshold: threshold, parties: parties, extra: 6, seed: 99)
        let result = try scenario.publicKey.combine(
            scenario.decryptionShares, for: scenario.ciphertexts, context: scenario.context)
        let privateKey = try PaillierPrivateKey(
            p: scenario.fixture.p, q: scenario.fixture.q, publicKey: scenario.publicKey.paillierKey)
        let crt = privateKey.decrypt(batch: scenario.ciphertexts)
        #expect(result.plaintexts == crt)
        #expect(crt == scenario.plaintexts)
        #expect(result.usedParties == Array(1...threshold))
        #expect(result.spareParties == Array((threshold + 1)...parties))
    }

    @Test func packedSumDecryptsThroughCombinePackedSum() throws {
        // Only the packed sums are decrypted, by parties 2, 4 and 5 of 5.
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        let packed = Array(scenario.ciphertexts.prefix(scenario.packedCount))
        var random = SeededRandom(seed: 5)
        let shares = try [2, 4, 5].map {
            try scenario.keyShares[$0 - 1].decryptionShare(
                for: packed, publicKey: scenario.publicKey, context: [1, 2], using: &random)
        }
        let (values, combination) = try scenario.publicKey.combinePackedSum(
            shares, for: packed, context: [1, 2], layout: scenario.layout, count: ThresholdScenario.vectorLength,
            contributors: 5)
        #expect(values == scenario.expectedSums)
        #expect(combination.usedParties == [2, 4, 5])
    }

    @Test func twoThousandFortyEightBitFixtureDecryptsAndMatchesCRT() throws {
        let fixture = try ThresholdFixture.load(bits: 2048)
        let key = fixture.publicKey
        var random = SeededRandom(seed: 2048)
        let messages = [BigInt(0), BigInt(123_456_789), key.n - 1]
        let ciphertexts = try messages.map { try key.paillierKey.encrypt($0, using: &random) }
        let context = Array("round-2048".utf8)
        let shares = try [1, 3, 5].map {
            try fixture.shares[$0 - 1].decryptionShare(for: ciphertexts, publicKey: key, context: context, using: &random)
        }
        let result = try key.combine(shares, for: ciphertexts, context: context)
        #expect(result.plaintexts == messages)
        let privateKey = try PaillierPrivateKey(p: fixture.p, q: fixture.q, publicKey: key.paillierKey)
        #expect(privateKey.decrypt(batch: ciphertexts) == messages)
        #expect(ciphertexts.map { TextbookPaillier.decryptCRT($0.value, p: fixture.p, q: fixture.q) } == messages)
    }

    @Test func verificationTableMatchesExponentiation() throws {
        let scenario = try ThresholdScenario(threshold: 2, parties: 3, extra: 1)
        let key = scenario.publicKey
        let table = key.verificationTableCache.table(for: key)
        #expect(key.verificationTableCache.table(for: key) === table)
        var random = SeededRandom(seed: 77)
        var exponents: [BigInt] = [0, 1, 15, 16, 255, BigInt.powerOfTwo(key.maximumResponseBits) - 1]
        for bits in [8, 100, 1000, key.maximumResponseBits] { exponents.append(BigInt.random(bits: bits, using: &random)) }
        for exponent in exponents {
            #expect(table.power(exponent) == key.verificationBase.power(exponent, modulus: key.nSquared), "\(exponent)")
        }
        #expect(table.power(BigInt.powerOfTwo(key.maximumResponseBits + 4)) == nil)
        #expect(table.power(-1) == nil)
    }

    @Test func lagrangeCoefficientsAreIntegersSummingToDelta() throws {
        let scenario = try ThresholdScenario(threshold: 5, parties: 7, extra: 1)
        let key = scenario.publicKey
        for subset in subsets(of: Array(1...7), size: 5) {
            let lambdas = key.lagrangeCoefficients(subset)
            // Σ λ_i = Δ·L(0) for the constant polynomial 1, i.e. Δ.
            #expect(lambdas.reduce(BigInt(0), +) == key.delta)
        }
    }
}
