import Foundation

/// The public, agreed part of the attention computation (Papers/design.md §1): anchors K (M × h), an
/// optional encoder W (d × h), the score scale and bias, and the ordered group labels.
///
/// For a record x (d features): scores s = (xW)·Kᵀ·scale + b, attention a = softmax(s), added to
/// the row of the record's group.
public struct AttentionModel: Sendable, Equatable {
    /// Anchor names, one per row of `anchors` (M of them).
    public let anchorNames: [String]
    /// Anchor embeddings K, M × h, row-major.
    public let anchors: [Double]
    /// The embedding dimension h.
    public let embeddingDimension: Int
    /// The encoder W, d × h, row-major; `nil` means the identity (then d = h).
    public let encoder: [Double]?
    /// The number of features per record, d.
    public let featureDimension: Int
    /// The factor applied to the scores (default 1/√h).
    public let scale: Double
    /// The bias b, one value per anchor.
    public let bias: [Double]
    /// The ordered group labels: the rows of the result.
    public let groups: [String]

    /// The number of anchors, M.
    public var anchorCount: Int { anchorNames.count }

    /// Checks and assembles a model.
    ///
    /// - Parameters:
    ///   - anchorNames: M distinct, non-empty names.
    ///   - anchors: M × h finite values, row-major.
    ///   - embeddingDimension: h ≥ 1.
    ///   - encoder: d × h finite values, row-major, or `nil` for the identity.
    ///   - scale: a positive finite factor; `nil` means 1/√h.
    ///   - bias: M finite values, or `nil` for zeros.
    ///   - groups: G ≥ 1 distinct, non-empty labels.
    /// - Throws: `AttentionError.shapeMismatch` naming the first inconsistency.
    public init(
        anchorNames: [String], anchors: [Double], embeddingDimension: Int, encoder: [Double]? = nil,
        scale: Double? = nil, bias: [Double]? = nil, groups: [String]
    ) throws {
        let m = anchorNames.count
        let h = embeddingDimension
        guard m >= 1 else { throw AttentionError.shapeMismatch("the model needs at least one anchor") }
        guard h >= 1 else { throw AttentionError.shapeMismatch("the embedding dimension must be at least 1") }
        guard anchors.count == m * h else {
            throw AttentionError.shapeMismatch("anchors: expected \(m) × \(h) = \(m * h) values, found \(anchors.count)")
        }
        guard anchors.allSatisfy(\.isFinite) else { throw AttentionError.shapeMismatch("anchors: every value must be finite") }
        if let duplicate = firstDuplicate(anchorNames) {
            throw AttentionError.shapeMismatch("anchors: the name '\(duplicate)' appears twice")
        }
        guard !anchorNames.contains(where: \.isEmpty) else { throw AttentionError.shapeMismatch("anchors: a name is empty") }
        var d = h
        if let encoder {
            guard !encoder.isEmpty, encoder.count % h == 0 else {
                throw AttentionError.shapeMismatch("encoder: expected d × \(h) values (h = \(h) from the anchors), found \(encoder.count)")
            }
            guard encoder.allSatisfy(\.isFinite) else { throw AttentionError.shapeMismatch("encoder: every value must be finite") }
            d = encoder.count / h
        }
        let scale = scale ?? 1 / Double(h).squareRoot()
        guard scale.isFinite, scale > 0 else { throw AttentionError.shapeMismatch("scale must be positive and finite, found \(scale)") }
        let bias = bias ?? [Double](repeating: 0, count: m)
        guard bias.count == m else { throw AttentionError.shapeMismatch("bias: expected \(m) values (one per anchor), found \(bias.count)") }
        guard bias.allSatisfy(\.isFinite) else { throw AttentionError.shapeMismatch("bias: every value must be finite") }
        guard !groups.isEmpty else { throw AttentionError.shapeMismatch("groups: at least one group label is needed") }
        if let duplicate = firstDuplicate(groups) { throw AttentionError.shapeMismatch("groups: the label '\(duplicate)' appears twice") }
        guard !groups.contains(where: \.isEmpty) else { throw AttentionError.shapeMismatch("groups: a label is empty") }
        self.anchorNames = anchorNames
        self.anchors = anchors
        self.embeddingDimension = h
        self.encoder = encoder
        self.featureDimension = d
        self.scale = scale
        self.bias = bias
        self.groups = groups
    }
}

extension AttentionModel {
    /// Reads an anchors file: a header row (`name`, then h column labels), then one row per
    /// anchor, its name followed by h numbers.
    /// - Returns: the anchor names, their embeddings (M × h, row-major) and h.
    /// - Throws: `AttentionError` naming the file and line at fault.
    public static func readAnchors(from url: URL) throws -> (names: [String], values: [Double], dimension: Int) {
        let file = url.lastPathComponent
        let rows = try readSmallDelimitedFile(path: url.path, displayName: file)
        guard let header = rows.first else { throw AttentionError.malformedFile(file: file, problem: "the anchors file is empty") }
        let h = header.fields.count - 1
        guard h >= 1 else {
            throw AttentionError.malformedFile(file: file, problem: "expected a header 'name,<h embedding columns>' with at least one embedding column")
        }
        var names: [String] = []
        var values: [Double] = []
        for row in rows.dropFirst() {
            guard row.fields.count == h + 1 else {
                throw AttentionError.badRecord(
                    file: file, position: "line \(row.line)", problem: "expected \(h + 1) columns (name and \(h) values), found \(row.fields.count)")
            }
            let name = row.fields[0]
            guard !name.isEmpty else {
                throw AttentionError.badRecord(file: file, position: "line \(row.line), column '\(header.fields[0])'", problem: "the anchor name is empty")
            }
            if names.contains(name) { throw AttentionError.badRecord(file: file, position: "line \(row.line)", problem: "anchor '\(name)' appears twice") }
            names.append(name)
            for e in 0..<h {
                values.append(try parseFiniteNumber(row.fields[e + 1], file: file, position: "line \(row.line), column '\(header.fields[e + 1])'"))
            }
        }
        guard !names.isEmpty else { throw AttentionError.malformedFile(file: file, problem: "no anchors after the header") }
        return (names, values, h)
    }

    /// Reads the encoder W (d × h): a CSV/TSV without a header, one row of h numbers per
    /// feature, or a two-dimensional `.npy` array of shape (d, h).
    /// - Returns: d × h values, row-major.
    /// - Throws: `AttentionError` naming the file and line (or row and column) at fault.
    public static func readEncoder(from url: URL, embeddingDimension h: Int) throws -> [Double] {
        let file = url.lastPathComponent
        if url.pathExtension.lowercased() == "npy" {
            let array = try NumPyFile(path: url.path, displayName: file)
            guard array.shape.count == 2, array.columns == h, array.rows >= 1 else {
                throw AttentionError.malformedFile(file: file, problem: "expected shape (d, \(h)) (h from the anchors), found \(array.shape)")
            }
            let values = try array.readAll()
            if let k = values.firstIndex(where: { !$0.isFinite }) {
                throw AttentionError.badRecord(file: file, position: "row \(k / h + 1), column \(k % h + 1)", problem: "not a finite number")
            }
            return values
        }
        let rows = try readSmallDelimitedFile(path: url.path, displayName: file)
        guard !rows.isEmpty else { throw AttentionError.malformedFile(file: file, problem: "the encoder file is empty") }
        var values: [Double] = []
        for row in rows {
            guard row.fields.count == h else {
                throw AttentionError.badRecord(
                    file: file, position: "line \(row.line)", problem: "expected \(h) numbers (h from the anchors), found \(row.fields.count)")
            }
            for (c, text) in row.fields.enumerated() {
                values.append(try parseFiniteNumber(text, file: file, position: "line \(row.line), column \(c + 1)"))
            }
        }
        return values
    }
}

func firstDuplicate(_ names: [String]) -> String? {
    var seen = Set<String>()
    for name in names where !seen.insert(name).inserted { return name }
    return nil
}
