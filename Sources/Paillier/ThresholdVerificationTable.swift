import Arithmetic
import Foundation

/// Precomputed powers of a key's fixed verification base v, so that verifying a proof computes
/// v^z with one modular multiplication per 4 bits of z instead of a full exponentiation.
///
/// entries[i·15 + (d − 1)] = v^(d·16^i) mod n² for every 4-bit window i of the longest valid
/// response and every digit d = 1…15. About 9 MB for a 2048-bit n (20 MB for 3072 bits); built
/// once per key, on first use by a verification of at least ``ThresholdPublicKey/tableThreshold``
/// proofs, which it repays within a few verifications.
///
/// - Warning: Variable time (the table index depends on z). Only for public exponents, i.e.
///   verification, never for proving.
final class ThresholdVerificationTable: Sendable {
    static let windowBits = 4
    static let digits = (1 << windowBits) - 1

    let windows: Int
    let nSquared: BigInt
    let entries: [BigInt]

    init(base: BigInt, nSquared: BigInt, maximumExponentBits: Int) {
        let windows = (maximumExponentBits + Self.windowBits - 1) / Self.windowBits
        self.windows = windows
        self.nSquared = nSquared
        // v^(16^i), sequentially (four squarings each), then each row in parallel.
        var windowBases: [BigInt] = []
        windowBases.reserveCapacity(windows)
        var current = base
        for _ in 0..<windows {
            windowBases.append(current)
            for _ in 0..<Self.windowBits { current = current.multiplied(by: current, modulo: nSquared) }
        }
        let rowBases = windowBases
        let rows = ThresholdConcurrency.map(rowBases.indices) { index -> [BigInt] in
            let rowBase = rowBases[index]
            var row: [BigInt] = [rowBase]
            row.reserveCapacity(Self.digits)
            var power = rowBase
            for _ in 2...Self.digits {
                power.multiply(by: rowBase, modulo: nSquared)
                row.append(power)
            }
            return row
        }
        entries = rows.flatMap { $0 }
    }

    /// base^exponent mod n², or nil when the exponent is negative or longer than the table.
    func power(_ exponent: BigInt) -> BigInt? {
        guard exponent.signum >= 0, exponent.bitWidth <= windows * Self.windowBits else { return nil }
        var accumulator = BigInt(1)
        for (byteIndex, byte) in exponent.magnitudeBytes().reversed().enumerated() {
            let low = Int(byte & 0x0F)
            let high = Int(byte >> 4)
            if low != 0 { accumulator.multiply(by: entries[(2 * byteIndex) * Self.digits + low - 1], modulo: nSquared) }
            if high != 0 { accumulator.multiply(by: entries[(2 * byteIndex + 1) * Self.digits + high - 1], modulo: nSquared) }
        }
        return accumulator
    }
}

/// Builds a key's verification table once and shares it between copies of the key and threads.
final class ThresholdVerificationTableCache: @unchecked Sendable {
    private let lock = NSLock()
    private var built: ThresholdVerificationTable?

    func table(for key: ThresholdPublicKey) -> ThresholdVerificationTable {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let table = ThresholdVerificationTable(
            base: key.verificationBase, nSquared: key.nSquared, maximumExponentBits: key.maximumResponseBits)
        built = table
        return table
    }
}
