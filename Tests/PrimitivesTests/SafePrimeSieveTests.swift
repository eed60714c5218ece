import Arithmetic
import COpenSSL
import Testing

@testable import Primitives

@Suite("Safe-prime sieve")
struct SafePrimeSieveTests {
    @Test("safe primes have the requested size, top two bits set and p = 2q + 1 with q prime", arguments: [64, 65, 128, 384, 512])
    func structure(bits: Int) throws {
        for _ in 0..<3 {
            let p = try SafePrimeSieve.search(bits: bits)
            #expect(p.bitWidth == bits)
            #expect(p.bit(bits - 2), "the second-highest bit is set, so two such primes multiply to 2·bits bits")
            #expect(p.isProbablePrime(rounds: 40))
            #expect(((p - 1) >> 1).isProbablePrime(rounds: 40))
        }
    }

    @Test("the sieve marks exactly the offsets where q or 2q + 1 has a factor below 2^20")
    func sieveMarksExactly() throws {
        var random = SystemRandomNumberGenerator()
        for bits in [63, 200, 1023] {
            let start = BigInt.random(bits: bits, using: &random) | BigInt(1) | BigInt.powerOfTwo(bits - 1)
            let bignum = try #require(SecretExponentiation.bignum(start))
            defer { BN_clear_free(bignum) }
            var sieve = [Bool](repeating: false, count: SafePrimeSieve.window)
            SafePrimeSieve.mark(&sieve, start: bignum)
            let primes = SafePrimeSieve.smallPrimes.map { BigInt(Int($0)) }
            // Checking every offset by division would take minutes: the first 10, 30 spread over
            // the window (nearly all marked) and the first 10 survivors cover both answers.
            let survivors = sieve.indices.filter { !sieve[$0] }.prefix(10)
            #expect(survivors.count == 10, "about 1 % of a window survives")
            let offsets = Array(0..<10) + (0..<30).map { _ in Int.random(in: 0..<SafePrimeSieve.window, using: &random) } + survivors
            for offset in offsets {
                let q = start + BigInt(2 * offset)
                let p = 2 * q + 1
                let divisible = primes.contains { (q % $0).isZero || (p % $0).isZero }
                #expect(sieve[offset] == divisible, "offset \(offset) of a \(bits)-bit start")
            }
        }
    }

    @Test("Primes.random(safe:) goes through the sieve and stays correct at the dealer's size")
    func dealerSize() throws {
        let p = try Primes.random(bits: 1024, safe: true)
        #expect(p.bitWidth == 1024)
        #expect(((p - 1) >> 1).isProbablePrime(rounds: 40))
    }
}
