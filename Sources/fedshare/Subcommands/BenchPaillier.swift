import ArgumentParser
import Arithmetic
import Foundation
import Paillier
import Primitives

/// `fedshare bench paillier`: key generation, encryption, decryption, addition and the packed
/// path, on one core and on all cores.
struct BenchPaillier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paillier",
        abstract: "Measure Paillier key generation, encryption, decryption and packing throughput."
    )

    @Option(help: "The size of n in bits (2048, 3072 or 4096).") var bits: Int = 2048
    @Option(help: "Seconds to run each measurement.") var seconds: Double = 2
    @Option(help: "Bits per packed value for the packed path.") var valueBits: Int = 24
    @Option(help: "Parties whose sum each packed slot must hold.") var packParties: Int = 16
    @Option(help: "Also measure t-of-n threshold decryption with this t (deals a fresh key).") var threshold: Int?
    @Option(help: "Parties n for the threshold measurement.") var parties: Int = 3
    @OptionGroup var output: JSONOutputOptions

    func validate() throws {
        guard [2048, 3072, 4096].contains(bits) else { throw ValidationError("--bits \(bits): expected 2048, 3072 or 4096") }
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds \(seconds): expected a value in (0, 600]") }
        guard (1...60).contains(valueBits) else { throw ValidationError("--value-bits \(valueBits): expected 1...60") }
        guard packParties >= 1 else { throw ValidationError("--pack-parties \(packParties): expected at least 1") }
        if let threshold, !(1...parties).contains(threshold) {
            throw ValidationError("--threshold \(threshold): expected 1...\(parties) (the number of --parties)")
        }
    }

    struct Result: Encodable {
        var bits: Int
        var cores: Int
        var keygenSeconds: Double
        var fastTableSeconds: Double
        var encryptPlainPerSecond: Double
        var encryptPlainPerSecondAllCores: Double
        var encryptFastPerSecond: Double
        var encryptFastPerSecondAllCores: Double
        var decryptPerSecond: Double
        var decryptPerSecondAllCores: Double
        var addPerSecond: Double
        var packedSlotsPerCiphertext: Int
        var packedValueBits: Int
        var packedParties: Int
        var packedValuesPerSecondAllCores: Double
        var threshold: ThresholdBenchmarkResult?
    }

    func run() throws {
        let cores = Parallel.defaultWidth
        let (key, keygen) = try Throughput.time { try PaillierPrivateKey.generate(bits: bits) }
        let pk = key.publicKey
        var generator = SecureRandom()
        let m = BigInt.random(below: pk.n, using: &generator)
        let (_, tableTime) = try Throughput.time { try pk.encrypt(m, method: .fast, using: &generator) }
        let c = try pk.encrypt(m, using: &generator)

        func encryptions(_ method: EncryptionMethod, threads: Int) -> Double {
            Throughput.measure(seconds: seconds, threads: threads) {
                var random = SecureRandom()
                _ = try? pk.encrypt(m, method: method, using: &random)
            }
        }
        let decrypt = { @Sendable in _ = key.decrypt(c) }

        // Packed path: values of valueBits bits with headroom for packParties contributions.
        let layout = try SlotLayout(valueBound: (1 << UInt64(valueBits)) - 1, noiseBound: 0, parties: packParties, modulusBits: pk.bitWidth)
        let values = (0..<(layout.slotsPerPlaintext * cores * 8)).map { _ in
            Int64.random(in: -((1 << Int64(valueBits)) - 1)...((1 << Int64(valueBits)) - 1), using: &generator)
        }
        var packedValues = 0
        let (_, packedTime) = try Throughput.time {
            let deadline = Date().addingTimeInterval(seconds)
            repeat {
                _ = try pk.encrypt(batch: try layout.pack(values))
                packedValues += values.count
            } while Date() < deadline
        }

        let result = Result(
            bits: bits, cores: cores, keygenSeconds: keygen, fastTableSeconds: tableTime,
            encryptPlainPerSecond: encryptions(.plain, threads: 1),
            encryptPlainPerSecondAllCores: encryptions(.plain, threads: cores),
            encryptFastPerSecond: encryptions(.fast, threads: 1),
            encryptFastPerSecondAllCores: encryptions(.fast, threads: cores),
            decryptPerSecond: Throughput.measure(seconds: seconds, decrypt),
            decryptPerSecondAllCores: Throughput.measure(seconds: seconds, threads: cores, decrypt),
            addPerSecond: Throughput.measure(seconds: seconds) { _ = pk.add(c, c) },
            packedSlotsPerCiphertext: layout.slotsPerPlaintext, packedValueBits: valueBits, packedParties: packParties,
            packedValuesPerSecondAllCores: Double(packedValues) / packedTime,
            threshold: try threshold.map { t in
                let line = StatusLine(enabled: !output.json)
                defer { line.finish() }
                return try ThresholdBenchmark.run(bits: bits, threshold: t, parties: parties, seconds: seconds * 6) { progress in
                    line.set("dealing a \(bits)-bit \(t)-of-\(parties) threshold key: \(progress.summary)")
                }
            })
        if output.json {
            try printJSON(result)
        } else {
            print(
                """
                Paillier, n = \(bits) bits, \(cores) cores
                  key generation            \(format(result.keygenSeconds)) s (fast-encryption table \(format(tableTime)) s)
                  encrypt, plain            \(format(result.encryptPlainPerSecond)) /s   all cores \(format(result.encryptPlainPerSecondAllCores)) /s
                  encrypt, fast (DJN)       \(format(result.encryptFastPerSecond)) /s   all cores \(format(result.encryptFastPerSecondAllCores)) /s
                  decrypt (CRT)             \(format(result.decryptPerSecond)) /s   all cores \(format(result.decryptPerSecondAllCores)) /s
                  homomorphic add           \(format(result.addPerSecond)) /s
                  packed values             \(format(result.packedValuesPerSecondAllCores)) /s (\(layout.slotsPerPlaintext) × \(layout.slotBits)-bit slots, \(valueBits)-bit values, \(packParties) parties)
                """)
            if let t = result.threshold {
                print(
                    """
                    Threshold \(t.threshold)-of-\(t.parties) (dealt in \(format(t.dealSeconds)) s), batches of \(t.batchSize) with one proof each
                      partial decryptions       \(format(t.partialDecryptionsPerSecondOneCore)) /s per core   all cores \(format(t.partialDecryptionsPerSecond)) /s   (\(format(t.partialDecryptionCPUMilliseconds)) CPU ms each)
                      verified by batch proof   \(format(t.proofVerificationsPerSecond)) /s   (\(format(t.proofVerificationCPUMilliseconds)) CPU ms each)
                      combinations              \(format(t.combinationsPerSecond)) /s
                      threshold decryptions     \(format(t.thresholdDecryptionsPerSecond)) /s (plain CRT \(format(t.plainCRTDecryptionsPerSecond)) /s)
                    """)
            }
        }
    }
}

func format(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(format: "%.3g", value)
}
