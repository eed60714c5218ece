import Attention
import Catalog
import FederationProtocol
import Foundation
import Manifest
import Synchronization

/// How a party answers one round: the contribution of its records in the round's scope, or a
/// decline (which costs it nothing: no reservation, nothing of its data leaves).
public enum ContributionAnswer: Sendable {
    case contribute(AttentionResult)
    case decline(String)
}

/// Where a party's contribution to each round comes from: asked once per round, with the
/// analyst's request the round answers (already verified) or `nil` for a round over every record.
public struct ContributionSource: Sendable {
    private let answer: @Sendable (RoundRequest?) throws -> ContributionAnswer

    public init(_ answer: @escaping @Sendable (RoundRequest?) throws -> ContributionAnswer) {
        self.answer = answer
    }

    /// The party's answer to a round for `request`.
    /// - Throws: what computing the contribution throws (the party refuses the round, naming it).
    public func answer(_ request: RoundRequest?) throws -> ContributionAnswer { try answer(request) }

    /// A contribution computed before the round (a precomputed partial result): it answers
    /// rounds over every record and declines scoped requests, which it cannot evaluate.
    public static func fixed(_ contribution: AttentionResult) -> ContributionSource {
        ContributionSource { request in
            if request?.scope != nil {
                return .decline("its contribution was computed in advance over all its records, so it cannot answer a scoped request")
            }
            return .contribute(contribution)
        }
    }

    /// The party's data file, read afresh for every round; a request's scope is evaluated against
    /// the party's own catalog (the manifest's `item_column` links records to entries), under the
    /// world's `policy`.
    /// - Parameters:
    ///   - first: the contribution over every record already computed at start-up (it answers
    ///     the first unscoped round instead of reading the file again).
    public static func data(
        manifest: FederationManifest, dataURL: URL, catalogPath: String?, policy: RequestPolicy,
        options: LocalAttention.Options = .init(), first: AttentionResult? = nil
    ) -> ContributionSource {
        let precomputed = Mutex(first)
        return ContributionSource { request in
            var options = options
            if let scope = request?.scope {
                if let refusal = policy.refusal(filters: scope.filterKinds, keys: scope.conditions.map(\.key)) { return .decline(refusal) }
                guard manifest.attention.itemColumn != nil else {
                    return .decline("the manifest names no [attention] item_column, so its records cannot be scoped by a catalog query")
                }
                guard let catalogPath else { return .decline("it keeps no catalog to evaluate the request's filters against (--catalog)") }
                let matches = try Catalog(path: catalogPath, access: .readOnly).search(scope)
                options.scope = Set(matches.map(\.entry.id))
            }
            let result =
                if options.scope == nil, let first = precomputed.withLock({ $0.take() }) { first } else {
                    try LocalAttention.compute(manifest: manifest, dataURL: dataURL, options: options)
                }
            // The records in scope, before the per-user bound; the count itself is never told.
            guard result.report.recordsRead >= policy.minimumRecords else {
                return .decline("fewer records match than its policy's minimum of \(policy.minimumRecords)")
            }
            return .contribute(result)
        }
    }
}

extension CatalogQuery {
    /// The kinds of filter this query uses (what a world's policy accepts or declines).
    public var filterKinds: Set<RequestPolicy.Filter> {
        var kinds = Set<RequestPolicy.Filter>()
        if text != nil { kinds.insert(.text) }
        if !conditions.isEmpty { kinds.insert(.where) }
        if from != nil || to != nil { kinds.insert(.time) }
        if near != nil { kinds.insert(.near) }
        if within != nil { kinds.insert(.within) }
        return kinds
    }
}
