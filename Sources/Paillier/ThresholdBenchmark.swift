import Arithmetic
import Foundation
import Primitives

/// Measured throughput of threshold decryption, for `fedshare bench paillier --threshold T
/// --parties N --json`. Rates are operations per second on all cores unless named otherwise.
public struct ThresholdBenchmarkResult: Sendable, Codable, Equatable {
    /// Modulus size in bits.
    public var bits: Int
    /// t.
    public var threshold: Int
    /// Number of parties.
    public var parties: Int
    /// Cores used by the parallel batch paths.
    public var cores: Int
    /// Ciphertexts per batch: a partial decryption carries one proof for the whole batch, so the
    /// per-ciphertext figures below include 1/batchSize of a proof.
    public var batchSize: Int
    /// Wall-clock seconds to deal the key (both safe primes, shares, verification keys).
    public var dealSeconds: Double
    /// One party's partial decryptions per second (ciphertexts of a batch, with the batch's
    /// proof of correctness).
    public var partialDecryptionsPerSecond: Double
    /// The same per core: 1000 / ``partialDecryptionCPUMilliseconds``.
    public var partialDecryptionsPerSecondOneCore: Double
    /// Partial decryptions whose batch proof was verified, per second (ciphertexts of one
    /// share's batch).
    public var proofVerificationsPerSecond: Double
    /// Combinations of t already verified partial decryptions into a plaintext, per second.
    public var combinationsPerSecond: Double
    /// Whole threshold decryptions per second on this one machine: t partial decryptions with
    /// proofs, t verifications and the combination, per ciphertext.
    public var thresholdDecryptionsPerSecond: Double
    /// Ordinary CRT decryptions per second with the dealer's full key, for comparison.
    public var plainCRTDecryptionsPerSecond: Double
    /// CPU milliseconds per ciphertext of one party's partial decryption of a batch with its
    /// batch proof, summed over all threads (process CPU time: stable when other processes
    /// share the machine).
    public var partialDecryptionCPUMilliseconds: Double
    /// CPU milliseconds per ciphertext of verifying one share's batch proof, all threads.
    public var proofVerificationCPUMilliseconds: Double
    /// CPU milliseconds of one plain CRT decryption on one thread.
    public var plainCRTDecryptionCPUMilliseconds: Double

    public init(
        bits: Int, threshold: Int, parties: Int, cores: Int, batchSize: Int, dealSeconds: Double, partialDecryptionsPerSecond: Double,
        partialDecryptionsPerSecondOneCore: Double, proofVerificationsPerSecond: Double, combinationsPerSecond: Double,
        thresholdDecryptionsPerSecond: Double, plainCRTDecryptionsPerSecond: Double,
        partialDecryptionCPUMilliseconds: Double, proofVerificationCPUMilliseconds: Double,
        plainCRTDecryptionCPUMilliseconds: Double
    ) {
        self.bits = bits
        self.threshold = threshold
        self.parties = parties
        self.cores = cores
        self.batchSize = batchSize
        self.dealSeconds = dealSeconds
        self.partialDecryptionsPerSecond = partialDecryptionsPerSecond
        self.partialDecryptionsPerSecondOneCore = partialDecryptionsPerSecondOneCore
        self.proofVerificationsPerSecond = proofVerificationsPerSecond
        self.combinationsPerSecond = combinationsPerSecond
        self.thresholdDecryptionsPerSecond = thresholdDecryptionsPerSecond
        self.plainCRTDecryptionsPerSecond = plainCRTDecryptionsPerSecond
        self.partialDecryptionCPUMilliseconds = partialDecryptionCPUMilliseconds
        self.proofVerificationCPUMilliseconds = proofVerificationCPUMilliseconds
        self.plainCRTDecryptionCPUMilliseconds = plainCRTDecryptionCPUMilliseconds
    }
}

/// The threshold decryption benchmark behind `fedshare bench paillier --threshold --parties`.
public enum ThresholdBenchmark {
    /// Deals a fresh key of `bits` bits and measures each threshold operation for about
    /// `seconds`/9 seconds, on all cores, with the CSPRNG.
    ///
    /// - Parameters:
    ///   - bits: 2048, 3072 or 4096 (smaller sizes are accepted here for quick runs, since the
    ///     key is thrown away).
    ///   - threshold: t.
    ///   - parties: number of parties.
    ///   - seconds: the total time budget of the measurements (dealing not included).
    ///   - progress: dealing progress (safe-prime search can take a while).
    /// - Throws: ``PaillierError`` for bad parameters.
    public static func run(
        bits: Int, threshold: Int, parties: Int, seconds: Double,
        progress: (@Sendable (ThresholdDealer.Progress) -> Void)? = nil
    ) throws -> ThresholdBenchmarkResult {
        let policy: KeySizePolicy = bits >= ThresholdPublicKey.minimumBits ? .production : .insecureTestOnly
        try ThresholdPublicKey.checkParameters(threshold: threshold, parties: parties)
        try ThresholdPublicKey.checkBits(bits, policy: policy)
        var random = SecureRandom()
        let clock = ContinuousClock()
        let start = clock.now
        var (p, q) = try ThresholdDealer.safePrimePair(bits: bits / 2, progress: progress)
        defer {
            p.wipe()
            q.wipe()
        }
        let (dealing, _) = try ThresholdDealer.deal(
            safePrimes: p, q, threshold: threshold, parties: parties, policy: policy, using: &random, progress: progress)
        let dealSeconds = (clock.now - start).seconds
        let privateKey = try PaillierPrivateKey(p: p, q: q, publicKey: dealing.publicKey.paillierKey)
        return try measure(
            publicKey: dealing.publicKey, shares: dealing.shares, privateKey: privateKey, dealSeconds: dealSeconds,
            seconds: seconds)
    }

    /// Measures with a given dealt key (e.g. a fixture), so that no safe primes are generated.
    static func measure(
        publicKey: ThresholdPublicKey, shares: [ThresholdKeyShare], privateKey: PaillierPrivateKey, dealSeconds: Double,
        seconds: Double
    ) throws -> ThresholdBenchmarkResult {
        var random = SecureRandom()
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let phase = max(seconds, 0.9) / 9
        let key = publicKey.paillierKey
        let t = publicKey.threshold
        // Small next to a round's batches (hundreds), so the proof's share is not understated.
        let batchSize = max(16, 4 * cores)
        let ciphertexts = try (0..<batchSize).map { _ in
            try key.encrypt(BigInt.random(below: key.n, using: &random), method: .fast, using: &random)
        }
        let context = Array("bench".utf8)
        let signers = Array(shares.prefix(t))

        // Partial decryption with the batch proof, one party, batch over all cores.
        var decryptionShares: [ThresholdDecryptionShare] = []
        let partialRate = try rate(seconds: phase) {
            let share = try signers[0].decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random)
            if decryptionShares.isEmpty { decryptionShares.append(share) }
            return ciphertexts.count
        }
        for signer in signers.dropFirst() {
            decryptionShares.append(
                try signer.decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random))
        }

        // Proof verification: one share's batch, over all cores.
        let verifyRate = try rate(seconds: phase) {
            try publicKey.verify(decryptionShares[0], for: ciphertexts, context: context)
            return ciphertexts.count
        }

        // Combination of t verified shares.
        let subset = decryptionShares.map { (party: $0.party, values: $0.values) }
        let combineRate = try rate(seconds: phase) {
            _ = try publicKey.combineVerified(subset, count: ciphertexts.count)
            return ciphertexts.count
        }

        // The whole thing: t shares with proofs, all verified, combined.
        let endToEnd = try rate(seconds: phase) {
            let fresh = try signers.map {
                try $0.decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random)
            }
            let result = try publicKey.combine(fresh, for: ciphertexts, context: context)
            guard result.plaintexts.count == ciphertexts.count else {
                throw PaillierError.invalidParameters("benchmark combination lost values")
            }
            return ciphertexts.count
        }

        // Plain CRT decryption with the dealer's key.
        let crtRate = rate(seconds: phase) {
            _ = privateKey.decrypt(batch: ciphertexts)
            return ciphertexts.count
        }

        // CPU time per ciphertext: process time (all threads) for the batch paths, thread time
        // for one CRT decryption.
        let partialCPU =
            try processCPUMilliseconds(seconds: phase) {
                _ = try signers[0].decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random)
            } / Double(batchSize)
        let verifyCPU =
            try processCPUMilliseconds(seconds: phase) {
                try publicKey.verify(decryptionShares[0], for: ciphertexts, context: context)
            } / Double(batchSize)
        let crtCPU = cpuMilliseconds(seconds: phase) { _ = privateKey.decrypt(ciphertexts[0]) }

        return ThresholdBenchmarkResult(
            bits: publicKey.bits, threshold: t, parties: publicKey.parties, cores: cores, batchSize: batchSize,
            dealSeconds: dealSeconds, partialDecryptionsPerSecond: partialRate,
            partialDecryptionsPerSecondOneCore: 1000 / partialCPU,
            proofVerificationsPerSecond: verifyRate, combinationsPerSecond: combineRate,
            thresholdDecryptionsPerSecond: endToEnd, plainCRTDecryptionsPerSecond: crtRate,
            partialDecryptionCPUMilliseconds: partialCPU, proofVerificationCPUMilliseconds: verifyCPU,
            plainCRTDecryptionCPUMilliseconds: crtCPU)
    }

    /// Runs `body` (which returns how many operations it did) until `seconds` have passed, at
    /// least twice; operations per second.
    static func rate(seconds: Double, _ body: () throws -> Int) rethrows -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var operations = 0
        var rounds = 0
        while rounds < 2 || (clock.now - start).seconds < seconds {
            operations += try body()
            rounds += 1
        }
        return Double(operations) / (clock.now - start).seconds
    }
}

extension ThresholdBenchmark {
    /// Runs `body` on this thread until `seconds` of wall time have passed (at least twice);
    /// the thread CPU time per call, in milliseconds.
    static func cpuMilliseconds(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = threadCPUSeconds()
        var calls = 0
        while calls < 2 || (clock.now - start).seconds < seconds {
            try body()
            calls += 1
        }
        return (threadCPUSeconds() - cpuStart) * 1000 / Double(calls)
    }

    /// As ``cpuMilliseconds(seconds:_:)`` with the CPU time of every thread of the process, for
    /// bodies that spread over cores.
    static func processCPUMilliseconds(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID)
        var calls = 0
        while calls < 2 || (clock.now - start).seconds < seconds {
            try body()
            calls += 1
        }
        return (cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpuStart) * 1000 / Double(calls)
    }

    static func threadCPUSeconds() -> Double { cpuSeconds(CLOCK_THREAD_CPUTIME_ID) }

    static func cpuSeconds(_ clockID: clockid_t) -> Double {
        var time = timespec()
        clock_gettime(clockID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) * 1e-18
    }
}
