import Arithmetic
import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Manifest

/// A party that left the round, the phase it failed to complete and why.
public struct DroppedParty: Sendable, Hashable, Codable {
    public let party: Int
    public let phase: RoundPhase
    public let reason: String

    public init(party: Int, phase: RoundPhase, reason: String) {
        self.party = party
        self.phase = phase
        self.reason = reason
    }
}

/// A released round: the noisy sums, who is in them, and what it cost.
public struct RoundResult: Sendable, Equatable {
    public let round: UInt64
    public let mode: FederationManifest.CryptoMode
    public let groups: [String]
    public let anchors: [String]
    public let fractionalBits: Int
    /// The summed grid values: G·M attention sums, then G count sums.
    public let sums: [Int64]
    public let contributors: [Int]
    public let dropped: [DroppedParty]
    public let event: MechanismEvent
    /// The aggregator's ledger reservation id, committed before the release.
    public let ledgerEntryID: Int64
    /// The Paillier key fingerprint, or "secagg" in secure-aggregation mode.
    public let keyFingerprint: String
    public let noNoise: Bool

    /// The released attention matrix A + noise (G × M, row-major).
    public var matrix: [Double] {
        let codec = FixedPointCodec(fractionalBits: fractionalBits)
        return sums.prefix(groups.count * anchors.count).map(codec.decode)
    }

    /// The released counts n + noise (per group, real-valued).
    public var noisyCounts: [Double] {
        let codec = FixedPointCodec(fractionalBits: fractionalBits)
        return sums.suffix(groups.count).map(codec.decode)
    }

    /// The counts rounded to whole records, never below 0 (post-processing).
    public var counts: [Int] { PostProcessing.nonNegativeCounts(noisyCounts) }

    /// The raw release as an `AttentionResult`: the unbiased noisy matrix, with ``counts``.
    public var attention: AttentionResult {
        AttentionResult(groups: groups, anchors: anchors, matrix: matrix, counts: counts)
    }

    /// The post-processed release a person reads and the allocation uses: ``counts``, and each
    /// row of the matrix projected onto the simplex scaled by its count (non-negative, each row
    /// summing to its count, as every clear row does). Post-processing: no privacy cost.
    public var postProcessed: AttentionResult {
        let counts = self.counts
        let rows = PostProcessing.consistentRows(matrix, columns: anchors.count, rowTotals: counts.map(Double.init))
        return AttentionResult(groups: groups, anchors: anchors, matrix: rows, counts: counts)
    }
}

extension RoundResult {
    /// The result as chunks for the wire.
    func chunks(cost: Wire.PrivacyCost) -> [Wire.ResultChunk] {
        let ranges = chunkRanges(count: sums.count, itemBytes: 10)
        return ranges.enumerated().map { index, range in
            var chunk = Wire.ResultChunk()
            chunk.chunk = Wire.Chunk(index: index, total: ranges.count)
            chunk.firstValue = UInt32(range.lowerBound)
            chunk.values = Array(sums[range])
            if index == 0 { chunk.header = header(cost: cost) }
            return chunk
        }
    }

    /// What the result's first chunk (or an analyst's reply) says about it, the sums aside.
    public func header(cost: Wire.PrivacyCost) -> Wire.ResultHeader {
        var header = Wire.ResultHeader()
        header.mode = mode == .paillier ? .paillier : .secagg
        header.groups = groups
        header.anchors = anchors
        header.fractionalBits = UInt32(fractionalBits)
        header.contributors = contributors.map { UInt32($0) }
        header.dropped = dropped.map(\.wire)
        header.charge = cost
        header.ledgerEntryID = ledgerEntryID
        header.keyFingerprint = keyFingerprint
        header.noNoise = noNoise
        header.valueCount = UInt32(sums.count)
        return header
    }

    /// Whether `header` announces a result of `plan`'s shape and grid.
    static func fits(_ header: Wire.ResultHeader, _ plan: RoundPlan) -> Bool {
        Int(header.valueCount) == plan.valueCount && header.groups == plan.groups && header.anchors == plan.anchors
            && Int(header.fractionalBits) == plan.codec.fractionalBits
    }

    /// The result of round `round` as `header` and `values` announce it, read with this side's
    /// own `plan` (its shape, grid and mechanism; never the sender's word for them).
    /// - Throws: ``FederationError/malformed(party:reason:)`` when they do not fit the plan.
    public init(round: UInt64, header: Wire.ResultHeader, values: [Int64], plan: RoundPlan) throws {
        guard Self.fits(header, plan) else {
            throw FederationError.malformed(party: nil, reason: "the result's header does not match this round's shape")
        }
        guard values.count == plan.valueCount else {
            throw FederationError.malformed(party: nil, reason: "the result holds \(values.count) of \(plan.valueCount) values")
        }
        self.init(
            round: round, mode: plan.mode, groups: plan.groups, anchors: plan.anchors, fractionalBits: plan.codec.fractionalBits,
            sums: values, contributors: header.contributors.map { Int($0) }, dropped: header.dropped.map(DroppedParty.init(wire:)),
            event: plan.event, ledgerEntryID: header.ledgerEntryID, keyFingerprint: header.keyFingerprint, noNoise: header.noNoise)
    }
}

extension DroppedParty {
    /// As the wire carries it (the reason cut to 1000 characters).
    public var wire: Wire.DroppedParty {
        var wire = Wire.DroppedParty()
        wire.party = UInt32(party)
        wire.phase = phase.wire
        wire.reason = String(reason.prefix(1000))
        return wire
    }

    public init(wire: Wire.DroppedParty) {
        self.init(party: Int(wire.party), phase: RoundPhase(wire: wire.phase), reason: wire.reason)
    }
}

/// How a round ended, from one side's point of view.
public enum RoundOutcome: Sendable, Equatable {
    case released(RoundResult)
    case aborted(phase: RoundPhase, reason: String, missing: [Int])
    /// The party refused to take part (its own checks or budget).
    case refused(reason: String)
}

/// A message from the aggregator engine and the party it goes to.
public struct OutgoingMessage: Sendable {
    public let party: Int
    public let envelope: Wire.AggregatorEnvelope

    public init(party: Int, envelope: Wire.AggregatorEnvelope) {
        self.party = party
        self.envelope = envelope
    }
}
