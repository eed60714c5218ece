import Arithmetic
import Foundation
import Primitives
import Testing

@testable import Paillier

@Suite struct ThresholdBenchmarkTests {
    @Test func benchmarkRunsOnASmallKey() throws {
        // Not a timed assertion: only that every rate is measured and positive.
        let result = try ThresholdBenchmark.run(bits: 256, threshold: 2, parties: 3, seconds: 0.05)
        #expect(result.bits == 256 && result.threshold == 2 && result.parties == 3)
        for rate in [
            result.partialDecryptionsPerSecond, result.partialDecryptionsPerSecondOneCore,
            result.proofVerificationsPerSecond, result.combinationsPerSecond,
            result.thresholdDecryptionsPerSecond, result.plainCRTDecryptionsPerSecond,
            result.partialDecryptionCPUMilliseconds, result.proofVerificationCPUMilliseconds,
            result.plainCRTDecryptionCPUMilliseconds,
        ] {
            #expect(rate > 0)
        }
        let json = try JSONEncoder().encode(result)
        #expect(try JSONDecoder().decode(ThresholdBenchmarkResult.self, from: json) == result)
    }

    /// The numbers in Papers/performance.md (threshold section), on the committed 2048-bit
    /// fixture so that no safe primes are generated:
    ///
    ///     FEDSHARE_THRESHOLD_BENCH=1 swift test -c release -Xswiftc -enable-testing \
    ///         --filter ThresholdBenchmarkTests/measureFixture
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEDSHARE_THRESHOLD_BENCH"] == "1"))
    func measureFixture() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["FEDSHARE_THRESHOLD_BENCH_SECONDS"] ?? "") ?? 30
        for bits in [2048] {
            let fixture = try ThresholdFixture.load(bits: bits)
            let privateKey = try PaillierPrivateKey(p: fixture.p, q: fixture.q, publicKey: fixture.publicKey.paillierKey)
            let result = try ThresholdBenchmark.measure(
                publicKey: fixture.publicKey, shares: fixture.shares, privateKey: privateKey, dealSeconds: 0,
                seconds: seconds)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        }
    }

    /// One party's partial decryption and its verification at a round's batch size (294
    /// ciphertexts: 32 × 256 + 32 values packed under a 2048-bit key), process CPU time, on the
    /// committed 2048-bit fixture (Papers/performance.md, "Batch proofs"):
    ///
    ///     FEDSHARE_THRESHOLD_BENCH=1 swift test --filter ThresholdBenchmarkTests/measureRoundBatch
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEDSHARE_THRESHOLD_BENCH"] == "1"))
    func measureRoundBatch() throws {
        let fixture = try ThresholdFixture.load(bits: 2048)
        let key = fixture.publicKey
        var random = SecureRandom()
        let count = Int(ProcessInfo.processInfo.environment["FEDSHARE_THRESHOLD_BENCH_BATCH"] ?? "") ?? 294
        let ciphertexts = try (0..<count).map { _ in
            try key.paillierKey.encrypt(BigInt.random(below: key.n, using: &random), method: .fast, using: &random)
        }
        let context = Array("bench".utf8)
        var start = ThresholdBenchmark.cpuSeconds(CLOCK_PROCESS_CPUTIME_ID)
        let share = try fixture.shares[0].decryptionShare(for: ciphertexts, publicKey: key, context: context, using: &random)
        let proving = ThresholdBenchmark.cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - start
        start = ThresholdBenchmark.cpuSeconds(CLOCK_PROCESS_CPUTIME_ID)
        try key.verify(share, for: ciphertexts, context: context)
        let verifying = ThresholdBenchmark.cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - start
        print("batch of \(count): partial decryption with its proof \(proving) s CPU, verification \(verifying) s CPU")
    }
}
