import Arithmetic
import Foundation
import Primitives

/// The fixed-base table behind the fast (Damgård–Jurik–Nielsen) randomiser.
///
/// hₛ = hⁿ mod n² with h = −x² mod n for a random x; the randomiser is hₛ^α for a short α.
/// α is drawn as `windows` base-2^w digits, each uniform in 1…2^w − 1, so that every
/// encryption does exactly one table multiplication per window, whatever α is (no skipped
/// zero digits). α then ranges over (2^w − 1)^windows ≥ 2^(0.99 · n/2) values.
///
/// - Warning: The table index depends on α, so a co-resident attacker watching the cache could
///   learn about α; the operation count does not.
final class FastEncryptionTable: Sendable {
    let windowBits: Int
    let windows: Int
    let digitsPerWindow: Int
    let nSquared: BigInt
    /// entries[i · digitsPerWindow + (d − 1)] = hₛ^(d · 2^(w·i)) mod n².
    let entries: [BigInt]

    init(publicKey: PaillierPublicKey) {
        let n = publicKey.n
        let nSquared = publicKey.nSquared
        windowBits = publicKey.bitWidth > 3072 ? 7 : 8
        let exponentBits = (publicKey.bitWidth + 1) / 2
        windows = (exponentBits + windowBits - 1) / windowBits
        digitsPerWindow = (1 << windowBits) - 1
        self.nSquared = nSquared

        var generator = SecureRandom()
        var x: BigInt
        repeat { x = BigInt.random(below: n, using: &generator) } while x.isZero || BigInt.gcd(x, n).compare(1) != 0
        let h = (n - x.multiplied(by: x, modulo: n)).modulo(n)
        let hs = h.power(n, modulus: nSquared)

        var entries: [BigInt] = []
        entries.reserveCapacity(windows * digitsPerWindow)
        var windowBase = hs
        for _ in 0..<windows {
            var power = windowBase
            entries.append(power)
            for _ in 2...digitsPerWindow {
                power.multiply(by: windowBase, modulo: nSquared)
                entries.append(power)
            }
            // hₛ^(2^(w·(i+1))) = (hₛ^(2^(w·i)))^(2^w) = entry[2^w − 1] · base.
            windowBase = power.multiplied(by: windowBase, modulo: nSquared)
        }
        self.entries = entries
    }

    /// hₛ^α for a fresh α.
    func randomiser(using generator: inout some RandomNumberGenerator) -> BigInt {
        var accumulator = BigInt(1)
        var bits: UInt64 = 0
        var available = 0
        for window in 0..<windows {
            var digit = 0
            // A digit uniform in 1…2^w − 1 by rejection of zero.
            repeat {
                if available < windowBits { bits = generator.next(); available = 64 }
                digit = Int(bits & UInt64(digitsPerWindow))
                bits >>= UInt64(windowBits)
                available -= windowBits
            } while digit == 0
            accumulator.multiply(by: entries[window * digitsPerWindow + digit - 1], modulo: nSquared)
        }
        bits = 0
        return accumulator
    }
}

/// Builds a key's fast-encryption table once, on first use, and shares it between copies of the
/// key and across threads.
final class FastEncryptionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var built: FastEncryptionTable?

    func table(for key: PaillierPublicKey) -> FastEncryptionTable {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let table = FastEncryptionTable(publicKey: key)
        built = table
        return table
    }
}
