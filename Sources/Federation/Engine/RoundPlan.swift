import Arithmetic
import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Manifest
import Paillier
import Primitives

/// The phases of a round, as both engines and `--drop PARTY@PHASE` name them.
public enum RoundPhase: String, Sendable, Hashable, Codable, CaseIterable {
    case join, advertise, share, contribute, check, decrypt, unmask, release, done, aborted

    /// The working phases in the order a round passes them (each mode skips those it has not).
    public static let order: [RoundPhase] = [.join, .advertise, .share, .contribute, .check, .decrypt, .unmask, .release]

    /// The phase a party's message belongs to (what `--drop PARTY@PHASE` stops at).
    public init(of body: Wire.PartyEnvelope.Body?, mode: FederationManifest.CryptoMode) {
        switch body {
        case .hello, .accept, .refuse, .none, .error: self = .join
        case .advertiseKeys: self = .advertise
        case .shareKeys: self = .share
        case .contribution, .maskedInput: self = .contribute
        case .survivorSignature: self = .check
        case .commitAck: self = mode == .paillier ? .decrypt : .unmask
        case .partialDecryption: self = .decrypt
        case .unmaskingResponse: self = .unmask
        case .resultAck: self = .release
        }
    }

    /// True when a round reaches this phase no earlier than `other` (both in ``order``).
    public func isAtOrAfter(_ other: RoundPhase) -> Bool {
        guard let mine = Self.order.firstIndex(of: self), let theirs = Self.order.firstIndex(of: other) else { return false }
        return mine >= theirs
    }

    /// The wire enum.
    public var wire: Wire.Phase {
        switch self {
        case .join: return .join
        case .advertise: return .advertise
        case .share: return .share
        case .contribute: return .contribute
        case .check: return .check
        case .decrypt: return .decrypt
        case .unmask: return .unmask
        case .release: return .release
        case .done: return .done
        case .aborted: return .aborted
        }
    }

    public init(wire: Wire.Phase) {
        switch wire {
        case .advertise: self = .advertise
        case .share: self = .share
        case .contribute: self = .contribute
        case .check: self = .check
        case .decrypt: self = .decrypt
        case .unmask: self = .unmask
        case .release: self = .release
        case .done: self = .done
        case .aborted: self = .aborted
        default: self = .join
        }
    }
}

/// Everything about a round that both sides derive from the manifest alone, so that a party
/// can recompute what the aggregator announces and refuse any difference.
///
/// The contributed vector holds G·M attention values then G record counts, all on the
/// fixed-point grid 2^-f; noise is added to every coordinate (counts included). One record
/// moves A by a probability vector (L1 = 1, L2 ≤ 1) and its group's count by 1, so the
/// vector's sensitivity per privacy unit of k records is 2k (L1) or √2·k (L2).
///
/// The grid: `fractional_bits` when the manifest gives it, else the coarsest grid 2^-f that
/// keeps (a) the worst rounding error of a released value, n·2^-f/2 for n parties, at most
/// σ/512 (``roundingFraction``), and (b) the rounding term of the charged sensitivity (√c in L2,
/// c in L1, for c coordinates one unit can change) at most 1/16 of the data's Δ·2^f
/// (``roundingChargeFraction``), with σ the noise calibrated without rounding. The noise is
/// then calibrated on that grid with the rounding charged exactly, as on any grid.
public struct RoundPlan: Sendable, Hashable {
    /// The automatic grid keeps every released value's worst rounding error below σ times this.
    public static let roundingFraction = 1.0 / 512
    /// The automatic grid keeps rounding's share of the charged sensitivity below this.
    public static let roundingChargeFraction = 1.0 / 16

    public let federation: String
    public let manifestHash: [UInt8]
    public let mode: FederationManifest.CryptoMode
    public let groups: [String]
    public let anchors: [String]
    public let codec: FixedPointCodec
    /// G·M + G.
    public let valueCount: Int
    public let threshold: Int
    /// The manifest's party ids, ascending: party `keyHolders[i]` holds threshold-key share `i + 1`
    /// (the mapping ``FederationKit/shareIndex(ofParty:in:)`` and the provisioner use).
    public let keyHolders: [Int]
    /// The target noise of the released sum.
    public let mechanism: NoiseMechanism
    /// The charge per release (grid units, rounding included), as each ledger records it.
    public let event: MechanismEvent
    public let relation: NeighbouringRelation
    public let unit: String
    /// The ε per release that the accountant certifies for ``event`` at ``delta`` (never above
    /// ``targetEpsilon``): what the wire, `result.json` and `simulate` report.
    public let epsilon: Double
    /// The per-release δ (the manifest's).
    public let delta: Double
    /// The manifest's per-release target ε, which the noise is calibrated to.
    public let targetEpsilon: Double
    /// The accountant that certified ``epsilon`` (the `best` accountant's winner).
    public let accountant: AccountantKind
    /// The bound the noise was calibrated against.
    public let bound: CalibrationBound
    public let epsilonBudget: Double
    public let deltaBudget: Double
    /// The largest |noise share| a party adds, in grid units (a tail bound far beyond 2^-80).
    public let noiseBound: UInt64
    /// True when the grid came from the noise and value range, false for `fractional_bits`.
    public let automaticGrid: Bool
    /// The largest value a party encodes, in result units (the manifest's `max_records`).
    public let maxRecords: Int
    /// The number of parties in the manifest (the most contributions a sum can hold).
    public let partyCount: Int

    /// - Parameter threshold: overrides the manifest's threshold (simulations with `--threshold`).
    public init(manifest: FederationManifest, threshold: Int? = nil) throws {
        federation = manifest.name
        manifestHash = manifest.digest
        mode = manifest.crypto.mode
        groups = manifest.attention.groups
        anchors = manifest.model.anchorNames
        let g = groups.count
        let m = anchors.count
        guard g >= 1, m >= 1, g * m + g <= WireProtocol.maximumValues else {
            throw FederationError.configuration("manifest: \(g) groups × \(m) anchors is outside 1...\(WireProtocol.maximumValues) values")
        }
        valueCount = g * m + g
        keyHolders = manifest.parties.sorted()
        self.threshold = threshold ?? manifest.threshold
        guard self.threshold >= 1, self.threshold <= manifest.parties.count else {
            throw FederationError.configuration("threshold \(self.threshold) must be in 1...\(manifest.parties.count) (the number of parties)")
        }
        // The manifest refuses 2t ≤ n; an override (simulations) may not bring it back.
        guard 2 * self.threshold > manifest.parties.count else {
            throw FederationError.configuration(
                "threshold \(self.threshold) is unsafe for \(manifest.parties.count) parties: 2t must exceed the number of parties (Papers/threat-model.md §4); the smallest safe threshold is \(manifest.parties.count / 2 + 1)"
            )
        }
        let k = Double(manifest.recordsPerPrivacyUnit)
        let affected = min(valueCount, manifest.recordsPerPrivacyUnit * (m + 1))
        maxRecords = manifest.crypto.maxRecords
        partyCount = manifest.parties.count
        automaticGrid = manifest.crypto.fractionalBits == nil
        if let bits = manifest.crypto.fractionalBits {
            codec = FixedPointCodec(fractionalBits: bits)
        } else {
            do {
                codec = FixedPointCodec(
                    fractionalBits: try Self.automaticFractionalBits(
                        mechanism: manifest.privacy.mechanism, recordsPerUnit: k, affected: affected, dimension: valueCount,
                        threshold: self.threshold, parties: manifest.parties.count, epsilon: manifest.privacy.epsilon,
                        delta: manifest.privacy.delta))
            } catch let error as FederationError {
                throw error
            } catch {
                throw FederationError.configuration("manifest [privacy]: \(error)")
            }
        }
        relation = .addOrRemoveOne
        unit = manifest.privacy.unit.rawValue
        targetEpsilon = manifest.privacy.epsilon
        delta = manifest.privacy.delta
        epsilonBudget = manifest.privacy.epsilonBudget
        deltaBudget = manifest.privacy.deltaBudget
        do {
            // Calibrate in grid units against the event the ledgers record (rounding charged,
            // the whole dimension, t shares), with the accountant's own bound for the discrete
            // mechanism actually added; the grid scale is a power of two, so converting σ or b
            // to real units and back is exact.
            let calibrated: CalibratedNoise
            switch manifest.privacy.mechanism {
            case .laplace:
                let sensitivity = 2 * k
                let grid = DistributedNoise.gridSensitivity(sensitivity, mechanism: .laplace(scale: 1), affectedCoordinates: affected, codec: codec)
                calibrated = try Calibration.calibrate(
                    MechanismEvent(mechanism: .discreteLaplace, noise: 1, sensitivity: grid, dimension: valueCount, shares: 1),
                    epsilon: targetEpsilon, delta: 0)
                let b = calibrated.noise / codec.scale
                mechanism = .laplace(scale: b)
                event = try DistributedNoise.event(
                    for: mechanism, threshold: self.threshold, sensitivity: sensitivity,
                    dimension: valueCount, affectedCoordinates: affected, codec: codec)
                noiseBound = try Self.bound(b * codec.scale * 64)
            case .gaussian:
                let sensitivity = 2.0.squareRoot().nextUp * k
                let grid = DistributedNoise.gridSensitivity(sensitivity, mechanism: .gaussian(sigma: 1), affectedCoordinates: affected, codec: codec)
                calibrated = try Calibration.calibrate(
                    MechanismEvent(mechanism: .discreteGaussian, noise: 1, sensitivity: grid, dimension: valueCount, shares: self.threshold),
                    epsilon: targetEpsilon, delta: delta)
                let sigma = calibrated.noise / codec.scale
                mechanism = .gaussian(sigma: sigma)
                event = try DistributedNoise.event(
                    for: mechanism, threshold: self.threshold, sensitivity: sensitivity,
                    dimension: valueCount, affectedCoordinates: affected, codec: codec)
                noiseBound = try Self.bound(sigma * codec.scale / Double(self.threshold).squareRoot() * 41 + 2)
            }
            // What is charged is what was certified: recompute from the recorded event.
            let certified = try PrivacyAccountant.spend(of: [event], delta: event.mechanism.isPure ? 0 : delta, accountant: .best)
            guard event == calibrated.event, certified.epsilon <= targetEpsilon else {
                throw FederationError.configuration(
                    "manifest [privacy]: the calibrated noise is certified only for ε = \(certified.epsilon), above the target \(targetEpsilon)")
            }
            epsilon = certified.epsilon
            accountant = certified.accountant
            bound = calibrated.bound
        } catch let error as FederationError {
            throw error
        } catch {
            throw FederationError.configuration("manifest [privacy]: \(error)")
        }
    }

    /// The coarsest fractional bits f (0...52) meeting both rules of the automatic grid (see the
    /// type's documentation), from σ₀, the noise calibrated for the real-valued sensitivity
    /// alone (on a 2^-32 grid with no rounding charge): σ₀ is never above the final σ, whose
    /// calibration adds the rounding charge, so rule (a) holds for the final σ too.
    /// Deterministic: integer logarithms of values computed the same way on every party.
    static func automaticFractionalBits(
        mechanism: FederationManifest.Mechanism, recordsPerUnit k: Double, affected: Int,
        dimension: Int, threshold: Int, parties: Int, epsilon: Double, delta: Double
    ) throws -> Int {
        let fine = 0x1p32
        let sigma0: Double
        let sensitivity: Double
        let roundingTerm: Double
        switch mechanism {
        case .gaussian:
            sensitivity = 2.0.squareRoot().nextUp * k
            roundingTerm = Double(affected).squareRoot().nextUp
            sigma0 =
                try Calibration.calibrate(
                    MechanismEvent(mechanism: .discreteGaussian, noise: 1, sensitivity: sensitivity * fine, dimension: dimension, shares: threshold),
                    epsilon: epsilon, delta: delta
                ).noise / fine
        case .laplace:
            sensitivity = 2 * k
            roundingTerm = Double(affected)
            sigma0 =
                try Calibration.calibrate(
                    MechanismEvent(mechanism: .discreteLaplace, noise: 1, sensitivity: sensitivity * fine, dimension: dimension, shares: 1),
                    epsilon: epsilon, delta: 0
                ).noise / fine
        }
        // (a) n·2^-f/2 ≤ σ₀·roundingFraction  ⇔  2^f ≥ n / (2·σ₀·roundingFraction).
        let forRounding = Double(parties) / (2 * sigma0 * roundingFraction)
        // (b) roundingTerm ≤ roundingChargeFraction·Δ·2^f  ⇔  2^f ≥ roundingTerm / (Δ·roundingChargeFraction).
        let forCharge = roundingTerm / (sensitivity * roundingChargeFraction)
        let needed = max(forRounding, forCharge, 1)
        var bits = 0
        while bits < 52 && Double(sign: .plus, exponent: bits, significand: 1) < needed { bits += 1 }
        return bits
    }

    private static func bound(_ value: Double) throws -> UInt64 {
        guard value.isFinite, value < 0x1p60 else {
            throw FederationError.configuration("manifest: the noise tail \(value) grid units does not fit in 60 bits; lower fractional_bits or raise epsilon")
        }
        return UInt64(value.rounded(.up))
    }

    /// The largest |value| a party's data may contribute so that the sum over `parties`
    /// contributions, noise included, fits in a signed 63-bit slot.
    ///
    /// With an explicit `fractional_bits` and the default `max_records`, that is the most a slot
    /// can hold (as before the automatic grid); otherwise `max_records`·2^f, never above it. A
    /// cell or count of one party is at most its record count, so this bounds every value.
    public func valueBound(parties: Int) throws -> UInt64 {
        let total = (UInt64(1) << 62) / UInt64(max(1, parties))
        guard total > noiseBound + 1 else {
            throw FederationError.configuration("\(parties) parties leave no room for values next to the noise bound \(noiseBound)")
        }
        let largest = total - noiseBound - 1
        guard automaticGrid || maxRecords != FederationManifest.CryptoSettings.defaultMaxRecords else { return largest }
        let range = Double(maxRecords) * codec.scale  // exact: an integer below 2^41 times a power of two
        return range >= Double(largest) ? largest : min(largest, UInt64(range))
    }

    /// The Paillier slot layout for `parties` contributions under a key of `modulusBits` bits.
    public func layout(parties: Int, modulusBits: Int) throws -> SlotLayout {
        do {
            return try SlotLayout(valueBound: valueBound(parties: parties), noiseBound: noiseBound, parties: parties, modulusBits: modulusBits)
        } catch let error as FederationError { throw error } catch {
            throw FederationError.configuration("slot layout: \(error)")
        }
    }

    /// The threshold-key share index of `party` (1...parties), or nil when it is not in the manifest.
    public func shareIndex(ofParty party: Int) -> Int? {
        keyHolders.firstIndex(of: party).map { $0 + 1 }
    }

    /// The party id holding threshold-key share `index` (the inverse of ``shareIndex(ofParty:)``).
    public func party(ofShareIndex index: Int) -> Int? {
        keyHolders.indices.contains(index - 1) ? keyHolders[index - 1] : nil
    }

    /// The privacy cost as the wire carries it.
    public var cost: Wire.PrivacyCost {
        Wire.PrivacyCost(event, relation: relation, unit: unit, epsilon: epsilon, delta: delta)
    }

    /// Fails early on a contribution that cannot be encoded on this plan's grid and bound
    /// (before a party connects, or before it accepts a round).
    public func checkEncodable(_ contribution: AttentionResult, parties: Int) throws {
        _ = try encode(contribution, noise: [Int64](repeating: 0, count: valueCount), parties: parties)
    }

    /// One party's contribution on the grid: encode(A_p) then encode(n_p), plus its noise share.
    /// - Throws: when a value does not fit the grid or the bound for `parties`.
    public func encode(_ contribution: AttentionResult, noise: [Int64], parties: Int) throws -> [Int64] {
        guard contribution.groups == groups, contribution.anchors == anchors else {
            throw FederationError.contribution("the local attention's groups or anchors differ from the manifest's")
        }
        guard contribution.matrix.count == groups.count * anchors.count, contribution.counts.count == groups.count,
            noise.count == valueCount
        else {
            throw FederationError.contribution(
                "the local attention has \(contribution.matrix.count) values and \(contribution.counts.count) counts; expected \(groups.count * anchors.count) and \(groups.count)"
            )
        }
        let bound = try valueBound(parties: parties)
        var values: [Int64] = []
        values.reserveCapacity(valueCount)
        do {
            for value in contribution.matrix { values.append(try codec.encode(value)) }
            for count in contribution.counts { values.append(try codec.encode(Double(count))) }
        } catch {
            throw FederationError.contribution("local attention does not fit the fixed-point grid: \(error)")
        }
        for (index, value) in values.enumerated() where value.magnitude > bound {
            throw FederationError.contribution(
                "value \(index) of the local attention (\(codec.decode(value))) exceeds the bound \(codec.decode(Int64(bound))) for \(parties) parties: raise [crypto] max_records (now \(maxRecords)) or lower fractional_bits"
            )
        }
        return zip(values, noise).map { $0 &+ $1 }
    }

    /// The noise share a party adds (zeros when `noNoise`).
    public func noiseShare(parties: Int, noNoise: Bool, using generator: inout some RandomNumberGenerator) throws -> [Int64] {
        if noNoise { return [Int64](repeating: 0, count: valueCount) }
        do {
            let share = try DistributedNoise.share(
                for: mechanism, parties: parties, threshold: threshold, codec: codec,
                count: valueCount, using: &generator)
            guard share.allSatisfy({ $0.magnitude <= noiseBound }) else {
                throw FederationError.noise("a noise share broke its tail bound (probability below 2^-80); retry the round")
            }
            return share
        } catch let error as FederationError { throw error } catch {
            throw FederationError.noise("noise share: \(error)")
        }
    }

    /// The context bound into every partial decryption of one round's sum.
    public func decryptionContext(round: UInt64, contributors: [Int]) -> [UInt8] {
        var bytes = Array("fedshare/v1/decrypt".utf8)
        withUnsafeBytes(of: round.bigEndian) { bytes += $0 }
        bytes += manifestHash
        for party in contributors { withUnsafeBytes(of: UInt32(party).bigEndian) { bytes += $0 } }
        return SHA256.hash(bytes)
    }

    /// The budget a ledger without a cap of its own takes from the manifest.
    public var ledgerCap: LedgerCap { LedgerCap(dataset: federation, epsilon: epsilonBudget, delta: deltaBudget) }

    /// The charge a ledger records for this round.
    public func charge(party: String, round: UInt64, analyst: String = "") -> PrivacyCharge {
        PrivacyCharge(dataset: federation, event: event, relation: relation, unit: unit, party: party, round: String(round), analyst: analyst)
    }
}
