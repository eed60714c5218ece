import ArgumentParser
import Catalog
import Foundation

/// `fedshare catalog query`: the entries of a catalog that match every filter given.
struct CatalogQueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Find the entries of a catalog that match every filter given.",
        discussion: """
        --text: name or tags contain every word (whole tokens, case and accents ignored), ranked \
        by bm25. --where KEY=VALUE: an attribute, or the kind, has that value (repeatable). \
        --from/--to: the entry's [start, end] overlaps [from, to] (a missing start or end is open; \
        an entry with neither never matches). --near X,Y[,Z] --radius R: within distance R (in 2-D \
        without Z; an entry without z never matches a 3-D --near). --within X1,Y1,X2,Y2: inside \
        the box. All bounds are inclusive. Without --text, results are ordered by id, then world.
        """)

    @OptionGroup var file: CatalogFileOption
    @Option(help: ArgumentHelp("Words that must all appear in the name or tags.", valueName: "WORDS")) var text: String?
    @Option(name: .customLong("where"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An attribute (or kind) that must have this value; repeatable.", valueName: "KEY=VALUE"))
    var conditions: [String] = []
    @Option(help: ArgumentHelp("Overlapping from this instant (RFC 3339).", valueName: "T")) var from: String?
    @Option(help: ArgumentHelp("Overlapping until this instant (RFC 3339).", valueName: "T")) var to: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Centre of a distance filter (with --radius).", valueName: "X,Y[,Z]")) var near: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Largest distance from --near.", valueName: "R")) var radius: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("A box the entry must lie in.", valueName: "X1,Y1,X2,Y2")) var within: String?
    @Option(help: "At most this many results (0 = all).") var limit: Int = CatalogQuery.defaultLimit
    @Flag(help: "Print JSON: an array of entries, each with its world.") var json = false

    func validate() throws {
        if (near == nil) != (radius == nil) { throw ValidationError("--near and --radius go together") }
        if limit < 0 { throw ValidationError("--limit must be 0 (all) or more") }
    }

    func makeQuery() throws -> CatalogQuery {
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

    func run() throws {
        let query = try makeQuery()
        let matches = try Catalog(path: file.catalog, access: .readOnly).search(query)
        if json {
            try printJSON(matches)
            return
        }
        let header = ["world", "id", "kind", "name", "start", "end", "location", "tags"]
        let rows = matches.map { match -> [String] in
            let e = match.entry
            let location = e.location.map { l in ([l.x, l.y] + (l.z.map { [$0] } ?? [])).map { "\($0)" }.joined(separator: ",") }
            return [match.world, e.id, e.kind, e.name, e.start?.rfc3339 ?? "-", e.end?.rfc3339 ?? "-", location ?? "-",
                    e.tags.joined(separator: ";")]
        }
        printColumns(header, rows)
        print("\(matches.count) \(matches.count == 1 ? "entry" : "entries")\(query.limit > 0 && matches.count == query.limit ? " (the limit; --limit 0 for all)" : "")")
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
func printColumns(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }
    print(line(header))
    for row in rows { print(line(row)) }
}
