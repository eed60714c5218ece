import Primitives
import Testing
import _TestSupport

@testable import SecureAggregation

@Suite struct FieldTests {
    @Test func arithmeticMatchesWideIntegers() {
        var rng = SeededRandom(seed: 61)
        let p = Field61.modulus
        for _ in 0..<2000 {
            let a = rng.next() % p
            let b = rng.next() % p
            #expect(Field61.add(a, b) == (a + b) % p)
            #expect(Field61.subtract(a, b) == (a + p - b) % p)
            let (high, low) = a.multipliedFullWidth(by: b)
            #expect(Field61.multiply(a, b) == p.dividingFullWidth((high % p, low)).remainder)
            if a != 0 { #expect(Field61.multiply(a, Field61.inverse(a)) == 1) }
        }
        // Edge values.
        #expect(Field61.add(p - 1, 1) == 0)
        #expect(Field61.subtract(0, 1) == p - 1)
        #expect(Field61.multiply(p - 1, p - 1) == 1)
        #expect(Field61.reduce(p) == 0)
    }
}

@Suite struct ShamirTests {
    private func randomSecret(_ rng: inout SeededRandom) -> [UInt8] {
        (0..<Shamir.secretLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    @Test(arguments: [(2, 3), (3, 5), (4, 7), (6, 10), (13, 25)])
    func anyTOfNReconstruct(threshold: Int, parties: Int) throws {
        var rng = SeededRandom(seed: UInt64(threshold * 100 + parties))
        for _ in 0..<5 {
            let secret = randomSecret(&rng)
            let shares = try Shamir.split(secret, threshold: threshold, points: (1...parties).map(UInt64.init), using: &rng)
            for _ in 0..<10 {
                let subset = Array(shares.shuffled(using: &rng).prefix(threshold))
                #expect(try Shamir.reconstruct(subset, threshold: threshold) == secret)
            }
            // All of them, too.
            #expect(try Shamir.reconstruct(shares, threshold: threshold) == secret)
        }
    }

    @Test func fewerThanTSharesAreRefused() throws {
        var rng = SeededRandom(seed: 7)
        let secret = randomSecret(&rng)
        let shares = try Shamir.split(secret, threshold: 4, points: [1, 2, 3, 4, 5], using: &rng)
        #expect(throws: SecAggError.notEnoughShares(owner: nil, have: 3, need: 4)) {
            try Shamir.reconstruct(Array(shares.prefix(3)), threshold: 4)
        }
    }

    /// t − 1 shares do not determine the secret: for every candidate secret s′ there is exactly
    /// one degree-(t − 1) polynomial through (0, s′) and the t − 1 shares, so the shares are
    /// consistent with every secret; and interpolating them alone misses the secret.
    @Test func tMinusOneSharesDoNotDetermineTheSecret() throws {
        var rng = SeededRandom(seed: 11)
        let threshold = 4
        let secret = randomSecret(&rng)
        let shares = try Shamir.split(secret, threshold: threshold, points: [1, 2, 3, 4, 5, 6], using: &rng)
        let known = Array(shares.prefix(threshold - 1))
        for _ in 0..<20 {
            let candidate = randomSecret(&rng)
            // Build a polynomial for `candidate` that passes through the known shares: the
            // t points (0, candidate) and the known shares define it; its evaluations at the
            // known points are the known shares, so the view is identical.
            let chunks = Shamir.chunks(of: candidate)
            let anchor = Shamir.Share(x: 0, values: chunks)
            for share in known {
                // Evaluate the interpolating polynomial through {anchor} ∪ known at share.x.
                let points = [anchor] + known
                for chunk in 0..<Shamir.chunkCount {
                    var value: UInt64 = 0
                    for (i, pi) in points.enumerated() {
                        var numerator: UInt64 = 1
                        var denominator: UInt64 = 1
                        for (j, pj) in points.enumerated() where j != i {
                            numerator = Field61.multiply(numerator, Field61.subtract(share.x, pj.x))
                            denominator = Field61.multiply(denominator, Field61.subtract(pi.x, pj.x))
                        }
                        value = Field61.add(value, Field61.multiply(pi.values[chunk], Field61.multiply(numerator, Field61.inverse(denominator))))
                    }
                    #expect(value == share.values[chunk])
                }
            }
        }
        // Interpolating t − 1 shares as if they were enough does not give the secret.
        let guess = try? Shamir.reconstruct(known, threshold: threshold - 1)
        #expect(guess != secret)
    }

    @Test func sharesEncodeAndRejectNonFieldElements() throws {
        var rng = SeededRandom(seed: 3)
        let share = try Shamir.split(randomSecret(&rng), threshold: 2, points: [9], using: &rng)[0]
        #expect(Shamir.Share(x: 9, encoded: share.encoded) == share)
        var bad = share.encoded
        bad[7] = 0xFF
        #expect(Shamir.Share(x: 9, encoded: bad) == nil)
        #expect(Shamir.Share(x: 9, encoded: Array(share.encoded.dropLast())) == nil)
        #expect(Shamir.Share(x: 0, encoded: share.encoded) == nil)
    }

    @Test func inconsistentSharesAreDetected() throws {
        var rng = SeededRandom(seed: 5)
        let shares = try Shamir.split(randomSecret(&rng), threshold: 3, points: [1, 2, 3], using: &rng)
        var values = shares[1].values
        values[0] = Field61.add(values[0], 1 << 58)
        let tampered = [shares[0], Shamir.Share(x: 2, values: values), shares[2]]
        #expect(throws: SecAggError.self) { try Shamir.reconstruct(tampered, threshold: 3) }
    }
}

@Suite struct MaskExpanderTests {
    @Test func chunkedParallelExpansionEqualsOneKeystream() throws {
        let key = (0..<32).map { UInt8($0) }
        let length = MaskExpander.chunkWords * 2 + 77
        var stream = try AESCTRKeystream(key: key)
        var reference = [UInt64](repeating: 0, count: length)
        stream.fill(&reference)
        #expect(try MaskExpander.mask(key: key, length: length) == reference)
        var parallel = [UInt64](repeating: 5, count: length)
        try MaskExpander.apply([.init(key: key, subtract: false), .init(key: key, subtract: true)], to: &parallel)
        #expect(parallel == [UInt64](repeating: 5, count: length))
    }
}

@Suite struct ParameterTests {
    @Test func smallFederationsUseTheCompleteGraph() throws {
        let config = try SecAggConfiguration.recommended(parties: 20, vectorLength: 10)
        #expect(config.graph == .complete)
        #expect(config.threshold > 10 && config.threshold <= 18)
    }

    @Test func largeFederationsGetASparseGraph() throws {
        for n in [100, 1000, 10_000] {
            let (graph, threshold) = try SecAggConfiguration.chooseParameters(
                parties: n, dropoutRate: 0.05, corruptionRate: 0.05,
                adversary: .honestButCurious)
            guard case .harary(let degree) = graph else {
                #expect(n <= 100, "expected a sparse graph for \(n) parties")
                continue
            }
            #expect(degree < n - 1)
            #expect(threshold >= 2 && threshold <= degree + 1)
        }
    }

    @Test func invalidConfigurationsAreRefused() {
        #expect(throws: SecAggError.self) { try SecAggConfiguration(parties: 5, threshold: 6, vectorLength: 1) }
        #expect(throws: SecAggError.self) { try SecAggConfiguration(parties: 5, threshold: 1, vectorLength: 1) }
        #expect(throws: SecAggError.self) { try SecAggConfiguration(parties: 10, threshold: 3, vectorLength: 1, graph: .harary(degree: 3)) }
        #expect(throws: SecAggError.self) { try SecAggConfiguration(parties: 10, threshold: 6, vectorLength: 1, graph: .harary(degree: 4)) }
        #expect(throws: SecAggError.self) { try SecAggConfiguration(parties: 10, threshold: 3, vectorLength: 0) }
        #expect(throws: SecAggError.self) {
            try SecAggConfiguration.chooseParameters(parties: 10, dropoutRate: 0.5, corruptionRate: 0.5, adversary: .semiMalicious)
        }
    }
}

@Suite struct KeyAgreementTests {
    /// The cached-key path agrees with `Primitives.X25519` (RFC 7748) on public keys and secrets.
    @Test func matchesPrimitivesX25519() throws {
        var rng = SeededRandom(seed: 25519)
        for _ in 0..<8 {
            let a = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let b = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let mine = try KeyAgreementKey(rawRepresentation: a)
            let reference = try X25519.PrivateKey(rawRepresentation: a)
            let peer = try X25519.PrivateKey(rawRepresentation: b)
            #expect(mine.publicKey == reference.publicKey.rawRepresentation)
            #expect(try mine.sharedSecret(with: peer.publicKey.rawRepresentation) == reference.sharedSecret(with: peer.publicKey))
        }
        let key = try KeyAgreementKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
        #expect(throws: SecAggError.self) { try key.sharedSecret(with: [UInt8](repeating: 0, count: 32)) }
    }
}

@Suite struct PublicKeyValidationTests {
    /// Every key on the small-order list really yields the all-zero secret (so OpenSSL refuses
    /// it), and the server refuses it up front.
    @Test func smallOrderPointsAreRefused() throws {
        let key = try KeyAgreementKey(rawRepresentation: (0..<32).map { UInt8($0 * 7 & 0xFF) })
        var points: [[UInt8]] = [[UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31)]
        points += [
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ].map(Hex.decode)
        for point in points {
            #expect(!SessionCrypto.isAcceptablePublicKey(point))
            #expect(throws: SecAggError.self) { try key.sharedSecret(with: point) }
        }
        #expect(SessionCrypto.isAcceptablePublicKey(key.publicKey))
    }
}

extension ParameterTests {
    @Test func recommendedParametersAreFeasible() throws {
        for n in [10, 32, 50, 200, 1000, 100_000] {
            let config = try SecAggConfiguration.recommended(
                parties: n, vectorLength: 1, dropoutRate: 0.05, corruptionRate: 0.05,
                adversary: .honestButCurious)
            // Enough survivors are expected in each neighbourhood, and t exceeds the expected corrupt count.
            let hood = Double(config.neighbourhoodSize)
            #expect(Double(config.threshold) <= hood * 0.95)
            #expect(Double(config.threshold) > hood * 0.05)
            if n <= SecAggConfiguration.completeGraphLimit { #expect(config.graph == .complete) }
        }
    }
}
