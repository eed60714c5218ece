import ArgumentParser
import Catalog
import Foundation

/// The catalog filters of a query (`fedshare catalog query`) and of a request's scope
/// (`fedshare request`, `fedshare simulate`): the same options with the same semantics.
struct CatalogFilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Words that must all appear in the name or tags.", valueName: "WORDS")) var text: String?
    @Option(
        name: .customLong("where"), parsing: .unconditionalSingleValue,
        help: ArgumentHelp("An attribute (or kind) that must have this value; repeatable.", valueName: "KEY=VALUE"))
    var conditions: [String] = []
    @Option(help: ArgumentHelp("Overlapping from this instant (RFC 3339).", valueName: "T")) var from: String?
    @Option(help: ArgumentHelp("Overlapping until this instant (RFC 3339).", valueName: "T")) var to: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Centre of a distance filter (with --radius).", valueName: "X,Y[,Z]")) var near: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Largest distance from --near.", valueName: "R")) var radius: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("A box the entry must lie in.", valueName: "X1,Y1,X2,Y2")) var within: String?

    func validate() throws {
        if (near == nil) != (radius == nil) { throw ValidationError("--near and --radius go together") }
    }

    /// Whether any filter is given.
    var isEmpty: Bool { text == nil && conditions.isEmpty && from == nil && to == nil && near == nil && within == nil }

    /// The query these filters make, validated.
    /// - Throws: `CatalogError.invalidQuery` naming the option at fault.
    func query(limit: Int) throws -> CatalogQuery {
        func instant(_ text: String?, _ option: String) throws -> Instant? {
            guard let text else { return nil }
            do { return try Instant(rfc3339: text) } catch {
                throw CatalogError.invalidQuery(option: option, reason: error.description)
            }
        }
        var query = CatalogQuery(text: text, limit: limit)
        query.conditions = try conditions.map { try CatalogQuery.Condition(parsing: $0) }
        query.from = try instant(from, "--from")
        query.to = try instant(to, "--to")
        if let near, let radius { query.near = .init(center: try CatalogQuery.Point(parsing: near), radius: radius) }
        query.within = try within.map { try CatalogQuery.Box(parsing: $0) }
        try query.validate()
        return query
    }

    /// A request's scope: nil without any filter (every record).
    func scope() throws -> CatalogQuery? { isEmpty ? nil : try query(limit: 0) }
}
