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
    public init(anchorNames: [String], anchors: [Double], embeddingDimension: Int, encoder: [Double]? = nil,
                scale: Double? = nil, bias: [Double]? = nil, groups: [String]) throws {
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

func firstDuplicate(_ names: [String]) -> String? {
    var seen = Set<String>()
    for name in names where !seen.insert(name).inserted { return name }
    return nil
}
