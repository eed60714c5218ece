import Arithmetic
import Foundation
import Primitives

/// The fixed-base table behind the fast (Damgård–Jurik–Nielsen) randomiser.
///
/// hₛ = hⁿ mod n² with h = −x² mod n for a random x; the randomiser is hₛ^α for a short α.
/// α is drawn as `windows` base-2^w digits, each uniform in 1…2^w − 1, so that every
/// encryption does exactly one table multiplication per window, whatever α is (no skipped
/// zero digits). There are enough windows that α ranges over (2^w − 1)^windows ≥ 2^(n/2)
/// values: at 2048-bit n, 103 ten-bit windows (about 2^1030 exponents) or 207 five-bit ones.
///
/// The window is sized to the work: building the table costs about windows · 2^w
/// multiplications mod n², each encryption one per window. A party that encrypts one round's
/// 121 ciphertexts gets 5-bit windows (6,400 products to build, 0.3 % of a 10-bit table's
/// 105,000); a long run of encryptions gets the widest window that fits ``memoryBudget``.
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

    /// The most memory one key's table may take (at most 10-bit windows for 2048-bit n, 9 for
    /// 3072, 8 for 4096).
    static let memoryBudget = 72 << 20

    /// - Parameter expectedEncryptions: how many encryptions the table will serve; the window
    ///   minimises building plus encrypting for that many.
    init(publicKey: PaillierPublicKey, expectedEncryptions: Int) {
        let n = publicKey.n
        let nSquared = publicKey.nSquared
        let exponentBits = (publicKey.bitWidth + 1) / 2
        let entryBytes = publicKey.ciphertextByteCount
        let windowBits = Self.windowBits(exponentBits: exponentBits, entryBytes: entryBytes, expectedEncryptions: expectedEncryptions)
        self.windowBits = windowBits
        let windows = Self.windows(exponentBits: exponentBits, windowBits: windowBits)
        self.windows = windows
        let digitsPerWindow = (1 << windowBits) - 1
        self.digitsPerWindow = digitsPerWindow
        self.nSquared = nSquared

        var generator = SecureRandom()
        var x = BigInt.random(below: n, using: &generator)
        while x.isZero || BigInt.gcd(x, n).compare(1) != 0 { x = BigInt.random(below: n, using: &generator) }
        let h = (n - x.multiplied(by: x, modulo: n)).modulo(n)
        let hs = h.power(n, modulus: nSquared)

        // Window bases hₛ^(2^(w·i)) in sequence, then each window's powers on all cores.
        var bases = [hs]
        for _ in 1..<max(windows, 1) {
            var next = bases[bases.count - 1]
            for _ in 0..<windowBits { next.multiply(by: next, modulo: nSquared) }
            bases.append(next)
        }
        let rows =
            (try? Parallel.map(bases) { base -> [BigInt] in
                var row = [base]
                row.reserveCapacity(digitsPerWindow)
                var power = base
                for _ in 1..<digitsPerWindow {
                    power.multiply(by: base, modulo: nSquared)
                    row.append(power)
                }
                return row
            }) ?? []
        entries = rows.flatMap { $0 }
    }

    /// Windows of `windowBits` whose digits (each 1…2^w − 1) give α at least 2^exponentBits values.
    static func windows(exponentBits: Int, windowBits: Int) -> Int {
        Int((Double(exponentBits) / log2(Double((1 << windowBits) - 1))).rounded(.up))
    }

    /// The window (5 to 12 bits, within ``memoryBudget``) that costs the fewest multiplications
    /// mod n² to build (w squarings and 2^w − 2 products per window) and then to run
    /// `expectedEncryptions` encryptions (one product per window each).
    static func windowBits(exponentBits: Int, entryBytes: Int, expectedEncryptions: Int) -> Int {
        let candidates = (5...12).filter { w in
            windows(exponentBits: exponentBits, windowBits: w) * ((1 << w) - 1) * entryBytes <= memoryBudget
        }
        func cost(_ w: Int) -> Double {
            Double(windows(exponentBits: exponentBits, windowBits: w)) * (Double((1 << w) - 2 + w) + Double(max(expectedEncryptions, 1)))
        }
        return candidates.min { cost($0) < cost($1) } ?? 5
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
                if available < windowBits {
                    bits = generator.next()
                    available = 64
                }
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
/// key and across threads. The first use sizes it (``FastEncryptionTable``): a batch for the
/// batch's size, a single encryption for a long run of them.
final class FastEncryptionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var built: FastEncryptionTable?

    func table(for key: PaillierPublicKey, expectedEncryptions: Int = 1 << 20) -> FastEncryptionTable {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let table = FastEncryptionTable(publicKey: key, expectedEncryptions: expectedEncryptions)
        built = table
        return table
    }
}
