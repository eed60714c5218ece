import Arithmetic
import Primitives
import Testing
import _TestSupport

/// One generic runner over `Tests/TestVectors/primitives.json`; each vector names its source.
@Suite("Published known-answer vectors")
struct KnownAnswerTests {
    struct Vectors: Decodable {
        struct X25519Vector: Decodable { let source, scalar, u, output: String }
        struct Iterated: Decodable {
            let source: String
            let iterations: Int
            let output: String
        }
        struct HKDFVector: Decodable {
            let source, ikm, salt, info: String
            let length: Int
            let okm: String
        }
        struct CTRVector: Decodable { let source, key, counter, plaintext, ciphertext: String }
        struct SHAVector: Decodable { let source, message, digest: String }
        struct GCMVector: Decodable { let source, key, nonce, plaintext, aad, ciphertext, tag: String }
        let x25519: [X25519Vector]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let x25519_iterated: [Iterated]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let hkdf_sha256: [HKDFVector]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let aes256_ctr: [CTRVector]
        let sha256: [SHAVector]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let aes256_gcm: [GCMVector]
    }

    let vectors: Vectors

    init() throws {
        vectors = try TestVectors.load(Vectors.self, from: "primitives.json")
    }

    @Test("X25519 (RFC 7748)")
    func x25519() throws {
        for vector in vectors.x25519 {
            let key = try X25519.PrivateKey(rawRepresentation: Hex.decode(vector.scalar))
            let peer = try X25519.PublicKey(rawRepresentation: Hex.decode(vector.u))
            let base = Hex.decode("09" + String(repeating: "00", count: 31))
            let output = Hex.encode(Hex.decode(vector.u) == base ? key.publicKey.rawRepresentation : try key.sharedSecret(with: peer))
            #expect(output == vector.output, "\(vector.source)")
        }
    }

    @Test("X25519 iterated (RFC 7748 §5.2)")
    func x25519Iterated() throws {
        var k = Hex.decode("09" + String(repeating: "00", count: 31))
        var u = k
        var iteration = 0
        for vector in vectors.x25519_iterated {
            while iteration < vector.iterations {
                let key = try X25519.PrivateKey(rawRepresentation: k)
                let output = try key.sharedSecret(with: X25519.PublicKey(rawRepresentation: u))
                u = k
                k = output
                iteration += 1
            }
            #expect(Hex.encode(k) == vector.output, "\(vector.source)")
        }
    }

    @Test("X25519 rejects a small-order public key")
    func x25519SmallOrder() throws {
        let key = X25519.PrivateKey()
        let zero = try X25519.PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        #expect(throws: PrimitivesError.self) { try key.sharedSecret(with: zero) }
        #expect(throws: PrimitivesError.self) { try X25519.PublicKey(rawRepresentation: [1, 2, 3]) }
    }

    @Test("X25519 agreement is symmetric")
    func x25519Agreement() throws {
        let alice = X25519.PrivateKey()
        let bob = X25519.PrivateKey()
        #expect(try alice.sharedSecret(with: bob.publicKey) == bob.sharedSecret(with: alice.publicKey))
    }

    @Test("HKDF-SHA256 (RFC 5869)")
    func hkdf() throws {
        for vector in vectors.hkdf_sha256 {
            let okm = try HKDF.deriveKey(ikm: Hex.decode(vector.ikm), salt: Hex.decode(vector.salt), info: Hex.decode(vector.info), length: vector.length)
            #expect(Hex.encode(okm) == vector.okm, "\(vector.source)")
        }
        #expect(throws: PrimitivesError.self) { try HKDF.deriveKey(ikm: [1], info: [], length: 255 * 32 + 1) }
    }

    @Test("AES-256-CTR (NIST SP 800-38A)")
    func aesCTR() throws {
        for vector in vectors.aes256_ctr {
            var keystream = try AESCTRKeystream(key: Hex.decode(vector.key), counter: Hex.decode(vector.counter))
            var data = Hex.decode(vector.plaintext)
            keystream.apply(to: &data)
            #expect(Hex.encode(data) == vector.ciphertext, "\(vector.source)")
            // Byte-at-a-time application gives the same stream.
            var piecewise = try AESCTRKeystream(key: Hex.decode(vector.key), counter: Hex.decode(vector.counter))
            var pieces: [UInt8] = []
            for byte in Hex.decode(vector.plaintext) {
                var one = [byte]
                piecewise.apply(to: &one)
                pieces += one
            }
            #expect(Hex.encode(pieces) == vector.ciphertext)
        }
        #expect(throws: PrimitivesError.self) { _ = try AESCTRKeystream(key: [0, 1]) }
    }

    @Test("SHA-256 (FIPS 180)")
    func sha256() {
        for vector in vectors.sha256 {
            #expect(Hex.encode(SHA256.hash(Hex.decode(vector.message))) == vector.digest, "\(vector.source)")
        }
    }

    @Test("AES-256-GCM (McGrew–Viega)")
    func aesGCM() throws {
        for vector in vectors.aes256_gcm {
            let sealed = try AESGCM.seal(
                Hex.decode(vector.plaintext), key: Hex.decode(vector.key), nonce: Hex.decode(vector.nonce), associatedData: Hex.decode(vector.aad))
            #expect(Hex.encode(sealed) == vector.nonce + vector.ciphertext + vector.tag, "\(vector.source)")
            #expect(try AESGCM.open(sealed, key: Hex.decode(vector.key), associatedData: Hex.decode(vector.aad)) == Hex.decode(vector.plaintext))
        }
    }

    @Test("AES-256-GCM refuses tampering, a wrong key and wrong associated data")
    func aesGCMTamper() throws {
        let key = SecureRandom.bytes(32)
        let sealed = try AESGCM.seal(Array("attention".utf8), key: key, associatedData: [1, 2])
        #expect(try AESGCM.open(sealed, key: key, associatedData: [1, 2]) == Array("attention".utf8))
        var flipped = sealed
        flipped[14] ^= 1
        #expect(throws: PrimitivesError.authenticationFailed) { try AESGCM.open(flipped, key: key, associatedData: [1, 2]) }
        #expect(throws: PrimitivesError.authenticationFailed) { try AESGCM.open(sealed, key: SecureRandom.bytes(32), associatedData: [1, 2]) }
        #expect(throws: PrimitivesError.authenticationFailed) { try AESGCM.open(sealed, key: key, associatedData: [1, 3]) }
        #expect(throws: PrimitivesError.authenticationFailed) { try AESGCM.open(Array(sealed.prefix(10)), key: key) }
    }
}

@Suite("Randomness and primes")
struct RandomnessTests {
    @Test("the CSPRNG produces distinct, well-spread output")
    func secureRandom() {
        let a = SecureRandom.bytes(64)
        let b = SecureRandom.bytes(64)
        #expect(a != b)
        var generator = SecureRandom()
        var ones = 0
        for _ in 0..<1000 { ones += generator.next().nonzeroBitCount }
        // 64,000 fair bits: mean 32,000, standard deviation about 126; ±1,000 is over 7σ.
        #expect(abs(ones - 32_000) < 1_000)
    }

    @Test("seeded generators are reproducible")
    func seeded() {
        var a = SeededRandom(seed: 42)
        var b = SeededRandom(seed: 42)
        var c = SeededRandom(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }

    @Test("primes and safe primes have the requested size and structure", arguments: [false, true])
    func primes(safe: Bool) throws {
        let bits = safe ? 256 : 512
        let p = try Primes.random(bits: bits, safe: safe)
        #expect(p.bitWidth == bits)
        #expect(p.isProbablePrime())
        if safe { #expect(((p - 1) / 2).isProbablePrime()) }
        let q = try Primes.random(bits: bits, safe: safe)
        #expect((p * q).bitWidth == 2 * bits)
    }

    @Test("parallel map keeps order and rethrows")
    func parallelMap() throws {
        let input = Array(0..<1000)
        #expect(try Parallel.map(input) { $0 * 2 } == input.map { $0 * 2 })
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try Parallel.map(input) {
                if $0 == 500 { throw Boom() }
                return $0
            }
        }
    }

    /// Regression (found by the fuzz targets' leak checker): the results buffer was deallocated
    /// without deinitialising it, so every value Parallel.map returned was leaked.
    @Test("parallel map releases its results")
    func parallelMapReleasesResults() throws {
        let before = Tracked.live.value
        do {
            let results = try Parallel.map(Array(0..<64), width: 4) { _ in Tracked() }
            #expect(results.count == 64)
            #expect(Tracked.live.value == before + 64)
        }
        #expect(Tracked.live.value == before)
    }
}

/// Counts its live instances (for the Parallel.map leak regression).
private final class Tracked: Sendable {
    static let live = LockedBox(0)
    init() { Tracked.live.update { $0 += 1 } }
    deinit { Tracked.live.update { $0 -= 1 } }
}

@Suite("Constant-time exponentiation")
struct SecretExponentiationTests {
    @Test("OpenSSL's constant-time path agrees with GMP on random operands")
    func agreesWithGMP() throws {
        var generator = SeededRandom(seed: 99)
        for bits in [64, 521, 2048] {
            var modulus = BigInt.random(bits: bits, using: &generator) | 1
            if modulus.compare(1) <= 0 { modulus = 3 }
            let exponent = BigInt.random(bits: bits / 2, using: &generator) + 1
            let power = try SecretExponentiation(exponent: exponent, modulus: modulus)
            for _ in 0..<10 {
                let base = BigInt.random(bits: bits + 10, using: &generator)
                #expect(power.power(base) == base.power(exponent, modulus: modulus))
                #expect(power.power(-base) == (-base).modulo(modulus).powerSecret(exponent, modulus: modulus))
            }
        }
    }
}
