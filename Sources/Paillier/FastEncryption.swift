import Arithmetic
import Foundation
import Primitives

/// The fixed-base table behind the fast (Damgård–Jurik–Nielsen) randomiser.
///
/// hₛ = hⁿ mod n² with h = −x² mod n for a random x; the randomiser is hₛ^α for a short α.
/// α is drawn as `windows` base-2^w digits, each uniform in 1…2^w − 1, so that every
/// encryption does exactly one table multiplication per window, whatever α is (no skipped
/// zero digits). α then ranges over (2^w − 1)^windows ≥ 2^(0.99 · n/2) values: at 2048-bit n,
/// 103 ten-bit windows, about 2^1030 exponents.
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

    /// The most memory one key's table may take; the window is the widest that fits
    /// (10 bits for 2048-bit n, 9 for 3072, 8 for 4096).
    static let memoryBudget = 72 << 20

    init(publicKey: PaillierPublicKey) {
        let n = publicKey.n
        let nSquared = publicKey.nSquared
        let exponentBits = (publicKey.bitWidth + 1) / 2
        let entryBytes = publicKey.ciphertextByteCount
        func tableBytes(_ w: Int) -> Int {
            let windowCount: Int = (exponentBits + w - 1) / w
            let perWindow: Int = (1 << w) - 1
            return windowCount * perWindow * entryBytes
        }
        let windowBits: Int = (4...12).reversed().first { tableBytes($0) <= FastEncryptionTable.memoryBudget } ?? 4
        self.windowBits = windowBits
        let windows = (exponentBits + windowBits - 1) / windowBits
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
        let rows = (try? Parallel.map(bases) { base -> [BigInt] in
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
