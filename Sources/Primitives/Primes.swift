import Arithmetic
import COpenSSL

/// Prime and safe-prime generation through OpenSSL (`BN_generate_prime_ex2`, which draws from
/// the CSPRNG and tests with enough Miller–Rabin rounds for a 2^-128 error at these sizes). Safe
/// primes of 64 bits and more come from a combined sieve over q and 2q + 1 (`SafePrimeSieve`),
/// several times faster than OpenSSL's own safe-prime search at 1024 bits.
public enum Primes {
    /// A random prime of exactly `bits` bits (top two bits set, so that a product of two has
    /// exactly 2 × `bits` bits).
    /// - Parameter safe: when true, p = 2q + 1 with q prime as well.
    public static func random(bits: Int, safe: Bool = false) throws -> BigInt {
        guard bits >= 16 else { throw PrimitivesError.unsupportedSize("prime size \(bits) bits is below 16") }
        if safe, bits >= 64 { return try SafePrimeSieve.search(bits: bits) }
        guard let prime = BN_new() else { throw PrimitivesError.openSSL(operation: "BN_new") }
        defer { BN_clear_free(prime) }
        guard let context = BN_CTX_secure_new() else { throw PrimitivesError.openSSL(operation: "BN_CTX_new") }
        defer { BN_CTX_free(context) }
        // OpenSSL sets the top two bits of the candidate itself.
        guard BN_generate_prime_ex2(prime, Int32(bits), safe ? 1 : 0, nil, nil, nil, context) == 1 else {
            throw PrimitivesError.openSSL(operation: "BN_generate_prime_ex2")
        }
        let length = (Int(BN_num_bits(prime)) + 7) / 8
        var bytes = [UInt8](repeating: 0, count: length)
        guard BN_bn2binpad(prime, &bytes, Int32(length)) == Int32(length) else { throw PrimitivesError.openSSL(operation: "BN_bn2binpad") }
        var result = BigInt(bigEndian: bytes)
        result.markSecret()
        bytes.withUnsafeMutableBytes { memsetZero($0.baseAddress!, $0.count) }
        return result
    }
}
