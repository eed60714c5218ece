import Arithmetic
import Primitives
import Testing

@Suite("BigInt")
struct BigIntTests {
    /// Random pairs of machine integers small enough that Swift's own arithmetic cannot overflow.
    static func randomPairs(_ count: Int, seed: UInt64) -> [(Int, Int)] {
        var generator = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            (Int.random(in: -(1 << 31)...(1 << 31), using: &generator), Int.random(in: -(1 << 31)...(1 << 31), using: &generator))
        }
    }

    @Test("ring operations agree with Swift's integers")
    func ringOperations() {
        for (a, b) in Self.randomPairs(2000, seed: 1) {
            let x = BigInt(a)
            let y = BigInt(b)
            #expect((x + y).intValue == a + b)
            #expect((x - y).intValue == a - b)
            #expect((x * y).intValue == a * b)
            #expect((-x).intValue == -a)
            if b != 0 {
                #expect((x / y).intValue == a / b)
                #expect((x % y).intValue == a % b)
                if b > 0 {
                    let expected = ((a % b) + b) % b
                    #expect(x.modulo(y).intValue == expected)
                }
            }
            #expect((x < y) == (a < b))
            #expect((x == y) == (a == b))
            #expect(x.compare(b) == (a < b ? -1 : (a == b ? 0 : 1)))
        }
    }

    @Test("shifts and bit operations agree with Swift's integers")
    func shifts() {
        for (a, _) in Self.randomPairs(500, seed: 2) {
            let x = BigInt(a)
            for shift in [0, 1, 7, 20] {
                #expect((x << shift).intValue == a << shift)
                #expect((x >> shift).intValue == a >> shift)
            }
            #expect((x & BigInt(0xFFFF)).intValue == a & 0xFFFF)
            #expect((x | BigInt(0x1234)).intValue == a | 0x1234)
            if a >= 0 { #expect(x.truncated(toBits: 10).intValue == a & 0x3FF) }
        }
    }

    @Test("modular arithmetic agrees with a direct computation")
    func modularArithmetic() {
        var generator = SeededRandom(seed: 3)
        let modulus = BigInt(1_000_000_007)
        for _ in 0..<200 {
            let base = Int.random(in: 1..<1_000_000_007, using: &generator)
            let exponent = Int.random(in: 1..<1000, using: &generator)
            var expected = 1
            for _ in 0..<exponent { expected = expected * base % 1_000_000_007 }
            #expect(BigInt(base).power(BigInt(exponent), modulus: modulus).intValue == expected)
            #expect(BigInt(base).powerSecret(BigInt(exponent), modulus: modulus).intValue == expected)
            let inverse = try! #require(BigInt(base).inverse(modulo: modulus))
            #expect(BigInt(base).multiplied(by: inverse, modulo: modulus) == 1)
        }
        #expect(BigInt(6).inverse(modulo: BigInt(9)) == nil)
        #expect(BigInt.gcd(BigInt(84), BigInt(-36)) == 12)
        #expect(BigInt.lcm(BigInt(4), BigInt(6)) == 12)
        #expect(BigInt.factorial(10) == 3_628_800)
    }

    @Test("copy on write keeps copies independent")
    func copyOnWrite() {
        var a = BigInt(10)
        let b = a
        a += 5
        #expect(a == 15)
        #expect(b == 10)
        var c = b
        c *= BigInt(3)
        #expect(c == 30)
        #expect(b == 10)
        var d = c
        d.multiply(by: 7, modulo: 100)
        #expect(d == 10)
        #expect(c == 30)
        var secret = BigInt(12345)
        let copy = secret
        secret.wipe()
        #expect(secret.isZero)
        #expect(copy == 12345)
    }

    @Test("decimal, byte and base64url conversions round-trip")
    func conversions() {
        var generator = SeededRandom(seed: 4)
        for bits in [1, 7, 8, 63, 64, 65, 255, 1024, 2049] {
            let value = BigInt.random(bits: bits, using: &generator)
            #expect(BigInt(value.description) == value)
            #expect(BigInt(value.toString(radix: 16), radix: 16) == value)
            #expect(BigInt(bigEndian: value.magnitudeBytes()) == value)
            #expect(BigInt(base64URL: value.base64URL) == value)
            let padded = value.bigEndianBytes(length: 300)!
            #expect(padded.count == 300 && BigInt(bigEndian: padded) == value)
            #expect(value.bitWidth <= bits)
        }
        #expect(BigInt("-123456789012345678901234567890")!.description == "-123456789012345678901234567890")
        #expect(BigInt("12a") == nil)
        #expect(BigInt("") == nil)
        #expect(BigInt(" 12") == nil)
        #expect(BigInt(base64URL: "AQAB") == 65537)
        #expect(BigInt(65537).base64URL == "AQAB")
        #expect(BigInt(base64URL: "!!") == nil)
        #expect(BigInt(1 << 40).bigEndianBytes(length: 2) == nil)
        #expect(BigInt(UInt64.max).uint64Value == UInt64.max)
        #expect(BigInt(UInt64.max).intValue == nil)
        #expect(BigInt(Int64.min) == -(BigInt.powerOfTwo(63)))
    }

    @Test("random values are below their bound and cover it")
    func randomBelow() {
        var generator = SeededRandom(seed: 5)
        let bound = BigInt(10)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let value = BigInt.random(below: bound, using: &generator)
            #expect(value.signum >= 0 && value < bound)
            seen.insert(value.intValue!)
        }
        #expect(seen.count == 10)
        let big = BigInt.powerOfTwo(300) + 12345
        for _ in 0..<100 {
            let value = BigInt.random(below: big, using: &generator)
            #expect(value < big && value.signum >= 0)
        }
    }

    @Test("primality test separates known primes and composites")
    func primality() {
        #expect(BigInt(1_000_000_007).isProbablePrime())
        #expect(!BigInt(1_000_000_007 * 3).isProbablePrime())
        // 2^127 − 1 is a Mersenne prime; 2^128 + 1 is composite.
        #expect((BigInt.powerOfTwo(127) - 1).isProbablePrime())
        #expect(!(BigInt.powerOfTwo(128) + 1).isProbablePrime())
    }
}

@Suite("Fixed-point codec")
struct FixedPointCodecTests {
    @Test("decode(encode(x)) is within half a step", arguments: [0, 8, 16, 24, 40])
    func roundTrip(bits: Int) throws {
        let codec = FixedPointCodec(fractionalBits: bits)
        var generator = SeededRandom(seed: UInt64(bits))
        for _ in 0..<1000 {
            let x = Double.random(in: -1e6...1e6, using: &generator)
            let encoded = try codec.encode(x)
            #expect(abs(codec.decode(encoded) - x) <= codec.step / 2)
            #expect(codec.decodeFromRing64(try codec.encodeToRing64(x)) == codec.decode(encoded))
        }
    }

    @Test("residues mod n wrap negatives and detect overflow")
    func modular() throws {
        let codec = FixedPointCodec(fractionalBits: 16)
        let modulus = BigInt.powerOfTwo(200) + 297
        let bound = BigInt(1 << 40)
        for x in [-3.25, 0.0, 7.5, -1000.0] {
            let residue = try codec.encode(x, modulo: modulus)
            #expect(residue.signum >= 0 && residue < modulus)
            #expect(codec.decode(try codec.decodeSigned(residue, modulo: modulus, bound: bound)) == x)
        }
        #expect(throws: FixedPointCodec.Failure.self) {
            try codec.decodeSigned(BigInt.powerOfTwo(100), modulo: modulus, bound: bound)
        }
        #expect(throws: FixedPointCodec.Failure.self) { try codec.encode(.nan) }
        #expect(throws: FixedPointCodec.Failure.self) { try codec.encode(1e300) }
    }
}
