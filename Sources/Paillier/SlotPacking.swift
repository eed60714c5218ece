import Arithmetic

/// How many signed values share one Paillier plaintext, and how wide each slot is.
///
/// The layout is derived from declared bounds so that the homomorphic sum of every party's
/// packed vector can never carry from one slot into the next:
///
/// - each party's value (data plus its noise share) satisfies |v| ≤ `valueBound + noiseBound`
///   = B (in fixed-point units); it is stored offset by B, so a slot holds 0…2B;
/// - the sum over `parties` contributions holds 0…2B·parties, which needs
///   `payloadBits` = bitWidth(2B·parties) bits;
/// - `guardBits` more bits per slot catch a contribution that broke its bound (up to
///   2^guardBits times over) as an overflow on unpacking instead of silently corrupting the
///   next slot. Two by default: every party checks its own values against the bound before
///   packing, and the aggregator cannot alter the sum (the parties recompute it from signed
///   contributions), so an overflow needs a party outside the threat model, which a wider band
///   would not stop either (it can put any in-bound garbage in its slots). Two bits still catch
///   a slip up to 4× the bound; each bit more costs 1/slotBits of the ciphertexts (8 bits were
///   the default until the 2026-12 profile, `Papers/performance.md`);
/// - slots × slotBits ≤ bitWidth(n) − 1, so the packed sum stays below n.
public struct SlotLayout: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Largest |value| one party contributes from its data, in fixed-point units.
    public let valueBound: UInt64
    /// Largest |noise share| one party adds (the tail bound of its noise), in fixed-point units.
    public let noiseBound: UInt64
    /// The most contributions that may be summed.
    public let parties: Int
    /// Extra bits per slot that detect a broken bound.
    public let guardBits: Int
    /// Bits of n.
    public let modulusBits: Int

    /// Bits per slot (payload plus guard band).
    public let slotBits: Int
    /// Slots per plaintext.
    public let slotsPerPlaintext: Int

    /// The guard band of a layout that does not name one.
    public static let defaultGuardBits = 2

    /// - Throws: `PaillierError.invalidLayout` naming the bound to change when no slot fits.
    public init(valueBound: UInt64, noiseBound: UInt64, parties: Int, modulusBits: Int, guardBits: Int = SlotLayout.defaultGuardBits) throws {
        guard parties >= 1 else { throw PaillierError.invalidLayout("parties must be at least 1, got \(parties)") }
        guard guardBits >= 1, guardBits <= 32 else { throw PaillierError.invalidLayout("guard bits must be in 1...32, got \(guardBits)") }
        guard valueBound > 0 else { throw PaillierError.invalidLayout("value bound must be positive") }
        let (bound, overflowed) = valueBound.addingReportingOverflow(noiseBound)
        guard !overflowed, bound <= UInt64(Int64.max) / 2 else {
            throw PaillierError.invalidLayout(
                "value bound \(valueBound) plus noise bound \(noiseBound) exceeds 2^62: lower the fractional bits or the noise tail")
        }
        self.valueBound = valueBound
        self.noiseBound = noiseBound
        self.parties = parties
        self.guardBits = guardBits
        self.modulusBits = modulusBits
        let sumBound = BigInt(bound) * BigInt(parties)
        guard sumBound <= BigInt(Int64.max) else {
            throw PaillierError.invalidLayout(
                "the sum of \(parties) contributions of up to \(bound) does not fit in 63 bits: lower the value bound, the noise bound, the fractional bits or the number of parties"
            )
        }
        slotBits = (sumBound * 2).bitWidth + guardBits
        slotsPerPlaintext = (modulusBits - 1) / slotBits
        guard slotsPerPlaintext >= 1 else {
            throw PaillierError.invalidLayout(
                "a slot needs \(slotBits) bits but the key has only \(modulusBits - 1) usable bits: use a larger key or smaller bounds")
        }
    }

    /// The per-party bound on a packed value, valueBound + noiseBound.
    public var contributionBound: UInt64 { valueBound + noiseBound }

    /// The number of plaintexts needed for `count` values.
    public func plaintextCount(for count: Int) -> Int { (count + slotsPerPlaintext - 1) / slotsPerPlaintext }

    public var description: String {
        "\(slotsPerPlaintext) slots × \(slotBits) bits (\(guardBits) guard) for \(parties) parties, |value| ≤ \(valueBound) + noise \(noiseBound)"
    }

    /// Packs one party's values (each |v| ≤ contributionBound) into plaintexts.
    /// - Throws: `PaillierError.invalidLayout` naming the first value outside the bound.
    public func pack(_ values: [Int64]) throws -> [BigInt] {
        let bound = contributionBound
        var plaintexts: [BigInt] = []
        plaintexts.reserveCapacity(plaintextCount(for: values.count))
        var start = 0
        while start < values.count {
            let end = min(start + slotsPerPlaintext, values.count)
            var accumulator = BigInt()
            // Most significant slot first, so slot j ends up at bit j · slotBits.
            for index in stride(from: end - 1, through: start, by: -1) {
                let value = values[index]
                guard value.magnitude <= bound else {
                    throw PaillierError.invalidLayout(
                        "value \(value) at index \(index) exceeds the declared bound \(bound) (value bound \(valueBound) + noise bound \(noiseBound))")
                }
                accumulator = (accumulator << slotBits) + BigInt(Int64(bitPattern: UInt64(bitPattern: value) &+ bound))
            }
            plaintexts.append(accumulator)
            start = end
        }
        return plaintexts
    }

    /// Unpacks the sum of `contributors` packed vectors into `count` signed values.
    /// - Throws: `PaillierError.overflow` naming the slot whose sum broke the declared bounds.
    public func unpackSum(_ plaintexts: [BigInt], count: Int, contributors: Int) throws -> [Int64] {
        guard contributors >= 1, contributors <= parties else {
            throw PaillierError.invalidLayout("\(contributors) contributors, but the layout was made for 1...\(parties)")
        }
        guard plaintexts.count == plaintextCount(for: count) else {
            throw PaillierError.malformed("expected \(plaintextCount(for: count)) packed plaintexts for \(count) values, got \(plaintexts.count)")
        }
        let offset = BigInt(contributionBound) * BigInt(contributors)
        let limit = offset * 2
        var values: [Int64] = []
        values.reserveCapacity(count)
        for (block, plaintext) in plaintexts.enumerated() {
            var rest = plaintext
            let slots = min(slotsPerPlaintext, count - block * slotsPerPlaintext)
            for slot in 0..<slots {
                let raw = rest.truncated(toBits: slotBits)
                rest = rest >> slotBits
                let index = block * slotsPerPlaintext + slot
                guard raw <= limit, let value = (raw - offset).intValue else {
                    throw PaillierError.overflow(
                        "slot \(index) holds \(raw), above the bound \(limit) for \(contributors) contributions: some contribution broke its declared bound")
                }
                values.append(Int64(value))
            }
            guard rest.isZero else {
                throw PaillierError.overflow("plaintext \(block) has bits above its last slot: some contribution broke its declared bound")
            }
        }
        return values
    }
}
