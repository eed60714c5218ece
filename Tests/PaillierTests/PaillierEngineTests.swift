import Arithmetic
import Foundation
import Primitives
import Testing

@testable import Paillier

/// Test-only keys: 512-bit n for the many-iteration properties, one 2048-bit key for the
/// production-size paths. Generated once per process.
enum Keys {
    static let small: PaillierPrivateKey = try! PaillierPrivateKey.generate(bits: 512, policy: .insecureTestOnly)
    static let production: PaillierPrivateKey = try! PaillierPrivateKey.generate(bits: 2048)
}

@Suite("Paillier engine")
struct PaillierEngineTests {
    @Test("encryption round-trips for both randomisers", arguments: EncryptionMethod.allCases)
    func roundTrip(method: EncryptionMethod) throws {
        let key = Keys.small
        var generator = SeededRandom(seed: 7)
        for _ in 0..<50 {
            let m = BigInt.random(below: key.publicKey.n, using: &generator)
            let c = try key.publicKey.encrypt(m, method: method, using: &generator)
            #expect(key.decrypt(c) == m)
        }
        // Edge plaintexts.
        for m in [BigInt(0), BigInt(1), key.publicKey.n - 1] {
            #expect(key.decrypt(try key.publicKey.encrypt(m, method: method, using: &generator)) == m)
        }
    }

    @Test("production-size key: round trip, fast and plain agree, encryption is randomised")
    func productionKey() throws {
        let key = Keys.production
        #expect(key.publicKey.bitWidth == 2048)
        var generator = SecureRandom()
        let m = BigInt(123_456_789)
        let fast = try key.publicKey.encrypt(m, method: .fast, using: &generator)
        let plain = try key.publicKey.encrypt(m, method: .plain, using: &generator)
        #expect(fast != plain)
        #expect(key.decrypt(fast) == m && key.decrypt(plain) == m)
        #expect(try key.publicKey.encrypt(m, using: &generator) != fast)
        let (p, q) = key.factors
        #expect((p - q).magnitude.bitWidth > 1024 - 100)
        #expect(p.bitWidth == 1024 && q.bitWidth == 1024)
    }

    @Test("homomorphic identities hold on random inputs")
    func homomorphism() throws {
        let key = Keys.small
        let pk = key.publicKey
        var generator = SeededRandom(seed: 11)
        for _ in 0..<40 {
            let a = BigInt.random(below: pk.n, using: &generator)
            let b = BigInt.random(below: pk.n, using: &generator)
            let k = BigInt.random(below: BigInt(1 << 40), using: &generator) - BigInt(1 << 39)
            let ca = try pk.encrypt(a, using: &generator)
            let cb = try pk.encrypt(b, using: &generator)
            #expect(key.decrypt(pk.add(ca, cb)) == (a + b).modulo(pk.n))
            #expect(key.decrypt(pk.add(ca, plaintext: b)) == (a + b).modulo(pk.n))
            #expect(key.decrypt(pk.multiply(ca, by: k)) == (a * k).modulo(pk.n))
            let fresh = pk.rerandomise(ca, using: &generator)
            #expect(fresh != ca && key.decrypt(fresh) == a)
        }
        let values = (0..<20).map { BigInt($0 * 1000) }
        let ciphertexts = try values.map { try pk.encrypt($0, using: &generator) }
        #expect(key.decrypt(try #require(pk.sum(ciphertexts))) == BigInt(190_000))
        #expect(pk.sum([]) == nil)
    }

    @Test("batch encryption and decryption over all cores")
    func batches() throws {
        let key = Keys.small
        var generator = SeededRandom(seed: 13)
        let plaintexts = (0..<64).map { _ in BigInt.random(below: key.publicKey.n, using: &generator) }
        for method in EncryptionMethod.allCases {
            let ciphertexts = try key.publicKey.encrypt(batch: plaintexts, method: method)
            #expect(key.decrypt(batch: ciphertexts) == plaintexts)
        }
    }

    @Test("the fast-encryption window fits the work and keeps α's range at 2^(n/2) or more")
    func fastEncryptionWindow() throws {
        for bits in [2048, 3072, 4096] {
            let exponentBits = bits / 2
            let entryBytes = bits / 4
            for w in 5...12 {
                let windows = FastEncryptionTable.windows(exponentBits: exponentBits, windowBits: w)
                // (2^w − 1)^windows ≥ 2^exponentBits, and one window fewer would not do.
                #expect(Double(windows) * log2(Double((1 << w) - 1)) >= Double(exponentBits))
                #expect(Double(windows - 1) * log2(Double((1 << w) - 1)) < Double(exponentBits))
            }
            for expected in [1, 121, 1_000, 1 << 20] {
                let w = FastEncryptionTable.windowBits(exponentBits: exponentBits, entryBytes: entryBytes, expectedEncryptions: expected)
                let windows = FastEncryptionTable.windows(exponentBits: exponentBits, windowBits: w)
                #expect(windows * ((1 << w) - 1) * entryBytes <= FastEncryptionTable.memoryBudget, "\(bits) bits, \(expected)")
            }
        }
        // One round's batch gets a small table; a long run the widest that fits (as before).
        #expect(FastEncryptionTable.windowBits(exponentBits: 1024, entryBytes: 512, expectedEncryptions: 121) == 5)
        #expect(FastEncryptionTable.windowBits(exponentBits: 1024, entryBytes: 512, expectedEncryptions: 1 << 20) == 10)
        #expect(FastEncryptionTable.windowBits(exponentBits: 2048, entryBytes: 1024, expectedEncryptions: 1 << 20) == 8)
        // A batch-sized table encrypts correctly at production size.
        let key = Keys.production
        let fresh = try PaillierPublicKey(n: key.publicKey.n)
        let plaintexts = (0..<8).map { BigInt($0 * 1_000_003) }
        let ciphertexts = try fresh.encrypt(batch: plaintexts, method: .fast)
        #expect(fresh.fastTable.table(for: fresh).windowBits == 5)
        #expect(key.decrypt(batch: ciphertexts) == plaintexts)
        #expect(Set(ciphertexts.map(\.value)).count == plaintexts.count)
    }

    @Test("ciphertexts outside Z*_{n²} are refused")
    func validation() throws {
        let pk = Keys.small.publicKey
        let (p, _) = Keys.small.factors
        #expect(throws: PaillierError.self) { try pk.ciphertext(BigInt(0)) }
        #expect(throws: PaillierError.self) { try pk.ciphertext(BigInt(-5)) }
        #expect(throws: PaillierError.self) { try pk.ciphertext(pk.nSquared) }
        #expect(throws: PaillierError.self) { try pk.ciphertext(pk.nSquared + 1) }
        #expect(throws: PaillierError.self) { try pk.ciphertext(p * 7) }
        #expect(try pk.ciphertext(BigInt(2)).value == 2)
        var generator = SeededRandom(seed: 1)
        #expect(throws: PaillierError.self) { try pk.encrypt(pk.n, using: &generator) }
        #expect(throws: PaillierError.self) { try pk.encrypt(BigInt(-1), using: &generator) }
    }

    @Test("key sizes below the floor are refused outside tests")
    func keySizes() throws {
        #expect(throws: PaillierError.self) { try PaillierPrivateKey.generate(bits: 1024) }
        #expect(throws: PaillierError.self) { try PaillierPrivateKey.generate(bits: 2050) }
        #expect(throws: PaillierError.self) { try PaillierPublicKey(n: Keys.small.publicKey.n) }
        #expect(throws: PaillierError.self) { try PaillierPublicKey(n: BigInt.powerOfTwo(2048)) }
        let (p, q) = Keys.small.factors
        #expect(throws: PaillierError.self) { try PaillierPrivateKey(p: p, q: q + 2, publicKey: Keys.small.publicKey) }
        #expect(throws: PaillierError.self) { try PaillierPrivateKey(p: p, q: p, publicKey: Keys.small.publicKey) }
    }
}

@Suite("Slot packing")
struct SlotPackingTests {
    @Test("worst-case values of every party sum without carrying between slots", arguments: [1, 2, 16, 100])
    func worstCase(parties: Int) throws {
        let key = Keys.small
        let valueBound: UInt64 = (1 << 24) - 1
        let noiseBound: UInt64 = 1 << 20
        let layout = try SlotLayout(valueBound: valueBound, noiseBound: noiseBound, parties: parties, modulusBits: key.publicKey.bitWidth)
        let bound = Int64(layout.contributionBound)
        let count = layout.slotsPerPlaintext * 2 + 3
        // Alternate the extremes so neighbouring slots hold opposite worst cases.
        let extremes: [[Int64]] = [
            (0..<count).map { $0 % 2 == 0 ? bound : -bound },
            (0..<count).map { $0 % 2 == 0 ? -bound : bound },
            [Int64](repeating: bound, count: count),
            [Int64](repeating: -bound, count: count),
        ]
        for vector in extremes {
            var sum: [PaillierCiphertext]? = nil
            for _ in 0..<parties {
                let encrypted = try key.publicKey.encrypt(batch: try layout.pack(vector))
                sum = sum.map { zip($0, encrypted).map { key.publicKey.add($0, $1) } } ?? encrypted
            }
            let decoded = try layout.unpackSum(key.decrypt(batch: try #require(sum)), count: count, contributors: parties)
            #expect(decoded == vector.map { $0 * Int64(parties) })
        }
    }

    @Test("random vectors: unpacked sum equals the plain sum")
    func randomSums() throws {
        let key = Keys.small
        var generator = SeededRandom(seed: 21)
        let layout = try SlotLayout(valueBound: 1 << 30, noiseBound: 1 << 12, parties: 5, modulusBits: key.publicKey.bitWidth)
        let count = 37
        let vectors = (0..<4).map { _ in
            (0..<count).map { _ in Int64.random(in: -Int64(layout.contributionBound)...Int64(layout.contributionBound), using: &generator) }
        }
        var sum = [BigInt](repeating: 0, count: layout.plaintextCount(for: count))
        for vector in vectors {
            for (index, plaintext) in try layout.pack(vector).enumerated() { sum[index] += plaintext }
        }
        let expected = (0..<count).map { index in vectors.reduce(Int64(0)) { $0 + $1[index] } }
        #expect(try layout.unpackSum(sum, count: count, contributors: 4) == expected)
    }

    @Test("layouts that could overflow are refused, naming the bound")
    func refusals() throws {
        #expect(throws: PaillierError.self) { try SlotLayout(valueBound: 1 << 24, noiseBound: 0, parties: 0, modulusBits: 2048) }
        #expect(throws: PaillierError.self) { try SlotLayout(valueBound: UInt64.max, noiseBound: 1, parties: 2, modulusBits: 2048) }
        #expect(throws: PaillierError.self) { try SlotLayout(valueBound: 1 << 60, noiseBound: 0, parties: 1 << 40, modulusBits: 2048) }
        #expect(throws: PaillierError.self) { try SlotLayout(valueBound: 1 << 50, noiseBound: 0, parties: 16, modulusBits: 40) }
        do {
            _ = try SlotLayout(valueBound: 1 << 50, noiseBound: 0, parties: 16, modulusBits: 40)
        } catch {
            #expect("\(error)".contains("larger key or smaller bounds"))
        }
        let layout = try SlotLayout(valueBound: 100, noiseBound: 10, parties: 3, modulusBits: 2048)
        #expect(throws: PaillierError.self) { try layout.pack([111]) }
        #expect(throws: PaillierError.self) { try layout.pack([-111]) }
        #expect(try layout.pack([110, -110]).count == 1)
    }

    @Test("a contribution that breaks its bound is caught on unpacking")
    func overflowDetected() throws {
        let layout = try SlotLayout(valueBound: 100, noiseBound: 0, parties: 2, modulusBits: 512)
        let honest = try layout.pack([100, -100, 5])
        // A cheating party adds 2^(slotBits − 1) to slot 1, far above 2 × 100 × 2.
        let cheat = honest[0] + (BigInt.powerOfTwo(layout.slotBits - 1) << layout.slotBits)
        #expect(throws: PaillierError.self) { try layout.unpackSum([honest[0] + cheat], count: 3, contributors: 2) }
        #expect(try layout.unpackSum([honest[0] + honest[0]], count: 3, contributors: 2) == [200, -200, 10])
        #expect(throws: PaillierError.self) { try layout.unpackSum([honest[0]], count: 3, contributors: 3) }
    }

    @Test("24-bit values with headroom for 16 parties pack many slots into a 2048-bit key")
    func density() throws {
        let layout = try SlotLayout(valueBound: (1 << 24) - 1, noiseBound: 0, parties: 16, modulusBits: 2048)
        #expect(layout.slotBits == 25 + 4 + SlotLayout.defaultGuardBits)
        #expect(layout.slotsPerPlaintext == 2047 / 31)
        let wide = try SlotLayout(valueBound: (1 << 24) - 1, noiseBound: 0, parties: 16, modulusBits: 2048, guardBits: 8)
        #expect(wide.slotBits == 37)
    }
}

@Suite("Serialisation")
struct SerialisationTests {
    @Test("pheutil JSON keys and ciphertexts round-trip")
    func pheutilRoundTrip() throws {
        let key = Keys.production
        let privateJSON = PheutilPrivateKeyJSON(key, kid: "test", publicKid: "test public")
        let restored = try privateJSON.privateKey()
        #expect(restored.publicKey == key.publicKey)
        var generator = SecureRandom()
        let c = try key.publicKey.encrypt(BigInt(42), using: &generator)
        let json = PheutilCiphertextJSON(ciphertext: c, exponent: -32, key: key.publicKey)
        #expect(restored.decrypt(try json.ciphertext(for: restored.publicKey)) == 42)
    }

    @Test("malformed keys and foreign ciphertexts are refused")
    func malformed() throws {
        let key = Keys.production
        var publicJSON = PheutilPublicKeyJSON(key.publicKey, kid: "k")
        publicJSON.kty = "RSA"
        #expect(throws: PaillierError.self) { try publicJSON.publicKey() }
        publicJSON = PheutilPublicKeyJSON(key.publicKey, kid: "k")
        publicJSON.n = "not base64!"
        #expect(throws: PaillierError.self) { try publicJSON.publicKey() }
        var privateJSON = PheutilPrivateKeyJSON(key, kid: "k", publicKid: "k")
        privateJSON.p = privateJSON.q
        #expect(throws: PaillierError.self) { try privateJSON.privateKey() }
        var ciphertextJSON = PheutilCiphertextJSON(ciphertext: try key.publicKey.ciphertext(BigInt(5)), exponent: 0, key: key.publicKey)
        ciphertextJSON.fedshare_key = "someone else"
        #expect(throws: PaillierError.keyMismatch) { try ciphertextJSON.ciphertext(for: key.publicKey) }
        ciphertextJSON.fedshare_key = nil
        ciphertextJSON.v = "12x"
        #expect(throws: PaillierError.self) { try ciphertextJSON.ciphertext(for: key.publicKey) }
    }

    @Test("binary batches round-trip and refuse other keys, truncation and out-of-range elements")
    func batches() throws {
        let key = Keys.small
        var generator = SeededRandom(seed: 5)
        let ciphertexts = try (0..<5).map { _ in try key.publicKey.encrypt(BigInt(7), using: &generator) }
        let bytes = CiphertextBatchCodec.encode(ciphertexts, key: key.publicKey)
        #expect(try CiphertextBatchCodec.decode(bytes, key: key.publicKey) == ciphertexts)
        let other = try PaillierPrivateKey.generate(bits: 512, policy: .insecureTestOnly)
        #expect(throws: PaillierError.keyMismatch) { try CiphertextBatchCodec.decode(bytes, key: other.publicKey) }
        #expect(throws: PaillierError.self) { try CiphertextBatchCodec.decode(Array(bytes.dropLast()), key: key.publicKey) }
        #expect(throws: PaillierError.self) { try CiphertextBatchCodec.decode(Array(bytes.prefix(20)), key: key.publicKey) }
        var zeroed = bytes
        let width = key.publicKey.ciphertextByteCount
        for index in (zeroed.count - width)..<zeroed.count { zeroed[index] = 0 }
        #expect(throws: PaillierError.self) { try CiphertextBatchCodec.decode(zeroed, key: key.publicKey) }
        var wrongVersion = bytes
        wrongVersion[4] = 9
        #expect(throws: PaillierError.self) { try CiphertextBatchCodec.decode(wrongVersion, key: key.publicKey) }
    }

    @Test("python-paillier number encoding: exact scaling, sign bands, overflow band")
    func pheEncoding() throws {
        let key = Keys.production.publicKey
        for value in [0.0, 1.0, -1.0, 3.5, -2.25, 1e-5, 123456.789, -9.87654321e10] {
            let encoded = try PheEncodedNumber.encode(value, key: key, exponent: -32)
            #expect(try encoded.decoded(key: key) == value)
        }
        #expect(PheEncodedNumber.precisionExponent(of: 1.0) == -13)
        #expect(PheEncodedNumber.pythonRepr(0.1) == "0.1")
        #expect(PheEncodedNumber.pythonRepr(1e-05) == "1e-05")
        #expect(PheEncodedNumber.pythonRepr(12345678.0) == "12345678.0")
        #expect(PheEncodedNumber.pythonRepr(1e16) == "1e+16")
        #expect(PheEncodedNumber.pythonRepr(123456789012345.0) == "123456789012345.0")
        let band = PheEncodedNumber(encoding: key.n / 2, exponent: 0)
        #expect(throws: PaillierError.self) { try band.decoded(key: key) }
    }
}
