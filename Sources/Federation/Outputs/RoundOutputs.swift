import Attention
import Catalog
import DifferentialPrivacy
import FederationProtocol
import Foundation

/// Writes a released round's output folder (Papers/design.md §4). Every file is written atomically.
///
/// - `attention.csv`, `counts.csv`: the post-processed release a person reads (non-negative;
///   whole counts; each row of attention sums to its count), which the allocation uses;
/// - `attention-raw.csv`, `counts-raw.csv`: the raw release, unbiased, for statisticians;
/// - `allocation.csv`, `result.json` (with the noise in result units, ``ReleaseNoise``) and
///   `heatmap.svg` (of the post-processed matrix, its caption giving σ).
public enum RoundOutputs {
    /// The files written, by name.
    public static let fileNames = [
        "attention.csv", "counts.csv", "attention-raw.csv", "counts-raw.csv", "allocation.csv",
        "result.json", "heatmap.svg",
    ]

    /// What `result.json` holds.
    public struct Summary: Codable, Sendable, Equatable {
        public struct Dropped: Codable, Sendable, Equatable {
            public var party: Int
            public var phase: String
            public var reason: String
        }
        public struct Cost: Codable, Sendable, Equatable {
            public var mechanism: String
            public var noise: Double
            public var sensitivity: Double
            public var dimension: Int
            public var shares: Int
            public var count: Int
            public var relation: String
            public var unit: String
            /// The ε per release that the `accountant` certifies for this event at `delta`:
            /// `fedshare privacy epsilon` with the fields above gives back no more than this.
            public var epsilon: Double
            /// The per-release δ that `epsilon` holds at.
            public var delta: Double
            /// The accountant that certified `epsilon` (the `best` accountant's winner).
            public var accountant: String
            /// The bound the noise was calibrated against (``CalibrationBound``).
            public var bound: String
            /// The manifest's per-release target, which the noise is calibrated to (`epsilon` ≤ it).
            public var targetEpsilon: Double
            public var targetDelta: Double
            public var noiseUnits: String
        }
        public var federation: String
        public var round: UInt64
        public var mode: String
        public var keyFingerprint: String
        public var partiesContributed: [Int]
        public var dropped: [Dropped]
        public var privacyCost: Cost
        public var ledgerEntryID: Int64
        public var noNoise: Bool
        public var groups: [String]
        public var anchors: [String]
        public var fractionalBits: Int
        public var allocation: String
        public var phaseSeconds: [String: Double]?
        /// The noise in result units, per released matrix (absent in files written before it).
        public var noise: ReleaseNoise?
        /// How `attention.csv` and `counts.csv` were made from the raw release.
        public var postProcessing: String?
        /// The analyst's request the round answered (absent: a round over every record).
        public var request: Request?

        /// An analyst's request, as result.json records it.
        public struct Request: Codable, Sendable, Equatable {
            public var id: String
            public var analyst: String
            /// RFC 3339, when the analyst signed it.
            public var issuedAt: String
            /// The catalog filters that chose the records (absent: every record).
            public var text: String?
            public var `where`: [String]?
            public var from: String?
            public var to: String?
            public var near: [Double]?
            public var radius: Double?
            public var within: [Double]?

            public init(_ request: RoundRequest) {
                id = request.id
                analyst = request.analyst
                issuedAt = Instant(microseconds: Int64(clamping: request.issuedAt)).rfc3339
                guard let scope = request.scope else { return }
                text = scope.text
                `where` = scope.conditions.isEmpty ? nil : scope.conditions.map { "\($0.key)=\($0.value)" }
                from = scope.from?.rfc3339
                to = scope.to?.rfc3339
                near = scope.near.map { [$0.center.x, $0.center.y] + ($0.center.z.map { [$0] } ?? []) }
                radius = scope.near?.radius
                within = scope.within.map { [$0.minX, $0.minY, $0.maxX, $0.maxY] }
            }
        }
    }

    /// How the published matrix is made from the raw release (result.json's `postProcessing`).
    public static let postProcessingNote =
        "counts: nearest non-negative integer; attention: each row projected (Euclidean) "
        + "onto {x ≥ 0, Σx = its count}; raw release in attention-raw.csv and counts-raw.csv; no privacy cost (post-processing)"

    /// Writes every output file into `directory` (created if needed).
    /// - Parameters:
    ///   - capacities: the capacities for `allocation.csv`; without them every anchor gets
    ///     capacity 1, so the allocation column is each anchor's share of attention.
    ///   - phaseSeconds: optional timings to record in result.json.
    /// - Returns: the summary written to result.json.
    @discardableResult
    public static func write(
        _ result: RoundResult, plan: RoundPlan, to directory: URL, capacities: [Allocation.Capacity]? = nil,
        phaseSeconds: [(phase: RoundPhase, seconds: Double)] = [], request: RoundRequest? = nil
    ) throws -> Summary {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FederationError.output(file: directory.path, reason: "cannot create the output folder: \(error.localizedDescription)")
        }
        let raw = result.attention
        let attention = result.postProcessed
        try save(attention.labelled.csv(), "attention.csv", in: directory)
        try save(attention.countsCSV(), "counts.csv", in: directory)
        try save(raw.labelled.csv(), "attention-raw.csv", in: directory)
        try save(
            LabelledMatrix(corner: "group", rowLabels: result.groups, columnLabels: ["count"], values: result.noisyCounts).csv(),
            "counts-raw.csv", in: directory)

        // The allocation reads the post-processed matrix: non-negative, rows consistent with counts.
        let clamped = attention.labelled
        let capacityList = capacities ?? result.anchors.map { Allocation.Capacity(node: $0, kind: .anchor, capacity: 1) }
        var allocationNote = capacities == nil ? "capacity 1 per anchor (shares of attention)" : "from the capacities given"
        do {
            let allocation = try Allocation(attention: clamped, capacities: capacityList)
            try save(allocation.csv(), "allocation.csv", in: directory)
        } catch let error as FederationError {
            throw error
        } catch {
            allocationNote = "not computed: \(error)"
            try save("node,kind,capacity,share,allocation\n", "allocation.csv", in: directory)
        }

        let noise = ReleaseNoise(result: result, plan: plan)
        let event = result.event
        // The ε recorded is recomputed from the event released (the one every ledger charged),
        // never copied from the plan's target.
        let certified: PrivacySpend
        do {
            certified = try PrivacyAccountant.spend(of: [event], delta: plan.delta, accountant: .best)
        } catch {
            throw FederationError.output(
                file: directory.appendingPathComponent("result.json").path,
                reason: "the released event cannot be accounted: \(error)")
        }
        var timings: [String: Double]?
        if !phaseSeconds.isEmpty {
            timings = [:]
            for (phase, seconds) in phaseSeconds { timings?[phase.rawValue, default: 0] += seconds }
        }
        let summary = Summary(
            federation: plan.federation, round: result.round, mode: result.mode.rawValue, keyFingerprint: result.keyFingerprint,
            partiesContributed: result.contributors,
            dropped: result.dropped.map { Summary.Dropped(party: $0.party, phase: $0.phase.rawValue, reason: $0.reason) },
            privacyCost: Summary.Cost(
                mechanism: event.mechanism.rawValue, noise: event.noise, sensitivity: event.sensitivity,
                dimension: event.dimension, shares: event.shares, count: event.count,
                relation: plan.relation.rawValue, unit: plan.unit, epsilon: certified.epsilon,
                delta: certified.delta, accountant: certified.accountant.rawValue, bound: plan.bound.rawValue,
                targetEpsilon: plan.targetEpsilon, targetDelta: plan.delta,
                noiseUnits: "grid units of 2^-\(result.fractionalBits)"),
            ledgerEntryID: result.ledgerEntryID, noNoise: result.noNoise, groups: result.groups, anchors: result.anchors,
            fractionalBits: result.fractionalBits, allocation: allocationNote, phaseSeconds: timings,
            noise: noise, postProcessing: postProcessingNote, request: request.map(Summary.Request.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json: String
        do { json = String(decoding: try encoder.encode(summary), as: UTF8.self) } catch {
            throw FederationError.output(file: directory.appendingPathComponent("result.json").path, reason: "cannot encode the summary: \(error)")
        }
        try save(json + "\n", "result.json", in: directory)
        let caption =
            result.noNoise
            ? "no noise added (--no-noise); post-processed release"
            : "noise σ = \(ReleaseNoise.format(noise.attention.sigmaPerCell)) per cell (records), typical cell \(ReleaseNoise.format(noise.attention.typicalCell))"
                + (noise.dominates ? ": NOISE DOMINATES" : "") + "; post-processed release (raw: attention-raw.csv)"
        try save(
            Heatmap.svg(
                attention.labelled,
                title: "\(plan.federation) — released attention (round \(result.round), \(result.mode.rawValue)\(result.noNoise ? ", no noise" : ""))",
                caption: caption),
            "heatmap.svg", in: directory)
        return summary
    }

    static func save(_ text: String, _ name: String, in directory: URL) throws {
        let url = directory.appendingPathComponent(name)
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw FederationError.output(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

/// A labelled SVG heatmap with axis titles and a colour legend.
public enum Heatmap {
    /// The SVG text for `matrix` (rows = groups, columns = anchors).
    /// - Parameter caption: a line under the title (the noise's σ, for a release).
    public static func svg(_ matrix: LabelledMatrix, title: String, caption: String? = nil) -> String {
        let rows = matrix.rowLabels.count
        let columns = matrix.columnLabels.count
        let cell = max(14.0, min(60.0, 720.0 / Double(max(rows, columns))))
        let fontSize = max(8.0, min(13.0, cell * 0.4))
        let longestRow = matrix.rowLabels.map(\.count).max() ?? 1
        let longestColumn = matrix.columnLabels.map(\.count).max() ?? 1
        let left = 40.0 + Double(min(longestRow, 32)) * fontSize * 0.6
        let top = caption == nil ? 50.0 : 66.0
        let gridWidth = cell * Double(columns)
        let gridHeight = cell * Double(rows)
        let bottom = 50.0 + Double(min(longestColumn, 32)) * fontSize * 0.6
        let legendWidth = 90.0
        let width = max(left + gridWidth + 30 + legendWidth, Double(caption?.count ?? 0) * 6.6 + 40)
        let height = top + max(gridHeight, 160) + bottom
        let finite = matrix.values.filter(\.isFinite)
        let low = finite.min() ?? 0
        let high = finite.max() ?? 1
        let span = high > low ? high - low : 1

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif">
            <title>\(escape(title))</title>
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        if let caption {
            svg += "<text x=\"\(f(width / 2))\" y=\"44\" text-anchor=\"middle\" font-size=\"12\">\(escape(caption))</text>\n"
        }
        for r in 0..<rows {
            for c in 0..<columns {
                let value = matrix[r, c]
                let t = value.isFinite ? (value - low) / span : 0
                svg +=
                    "<rect x=\"\(f(left + Double(c) * cell))\" y=\"\(f(top + Double(r) * cell))\" width=\"\(f(cell))\" height=\"\(f(cell))\" fill=\"\(colour(t))\"><title>\(escape(matrix.rowLabels[r])) × \(escape(matrix.columnLabels[c])): \(value)</title></rect>\n"
            }
        }
        // Row labels (groups) and the y-axis title.
        for (r, label) in matrix.rowLabels.enumerated() {
            svg +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(top + (Double(r) + 0.5) * cell + fontSize / 3))\" text-anchor=\"end\" font-size=\"\(f(fontSize))\">\(escape(String(label.prefix(32))))</text>\n"
        }
        svg +=
            "<text transform=\"translate(14 \(f(top + gridHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">group</text>\n"
        // Column labels (anchors), rotated, and the x-axis title.
        for (c, label) in matrix.columnLabels.enumerated() {
            let x = left + (Double(c) + 0.5) * cell
            let y = top + gridHeight + 8
            svg +=
                "<text transform=\"translate(\(f(x + fontSize / 3)) \(f(y))) rotate(-60)\" text-anchor=\"end\" font-size=\"\(f(fontSize))\">\(escape(String(label.prefix(32))))</text>\n"
        }
        svg += "<text x=\"\(f(left + gridWidth / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">anchor</text>\n"
        // Legend: a vertical gradient with the extreme values.
        let legendX = left + gridWidth + 30
        let legendHeight = max(gridHeight, 160)
        svg += "<defs><linearGradient id=\"legend\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
        for step in 0...10 {
            let t = Double(step) / 10
            svg += "<stop offset=\"\(f(t))\" stop-color=\"\(colour(t))\"/>"
        }
        svg += "</linearGradient></defs>\n"
        svg += "<rect x=\"\(f(legendX))\" y=\"\(f(top))\" width=\"18\" height=\"\(f(legendHeight))\" fill=\"url(#legend)\" stroke=\"#444\"/>\n"
        for step in 0...4 {
            let t = Double(step) / 4
            let y = top + legendHeight * (1 - t)
            svg += "<line x1=\"\(f(legendX + 18))\" y1=\"\(f(y))\" x2=\"\(f(legendX + 23))\" y2=\"\(f(y))\" stroke=\"#444\"/>"
            svg += "<text x=\"\(f(legendX + 26))\" y=\"\(f(y + 4))\" font-size=\"10\">\(label(low + t * span))</text>\n"
        }
        svg += "<text x=\"\(f(legendX))\" y=\"\(f(top - 8))\" font-size=\"11\">attention</text>\n"
        svg += "</svg>\n"
        return svg
    }

    /// A perceptually ordered ramp (dark blue → teal → yellow), t in 0…1.
    static func colour(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = min(max(t, 0), 1) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2)
        let u = x - Double(i)
        let a = stops[i]
        let b = stops[i + 1]
        func mix(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * u).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    static func label(_ value: Double) -> String {
        abs(value) >= 1000 || (abs(value) < 0.01 && value != 0) ? String(format: "%.3g", value) : String(format: "%.2f", value)
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
