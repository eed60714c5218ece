import ArgumentParser
import Catalog
import Federation
import Foundation

/// `fedshare catalog query`: the entries of a catalog, or of the federation directory, that
/// match every filter given.
struct CatalogQueryCommand: AsyncParsableCommand {
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

            With --catalog the query runs on that file. With --kit (a party's kit) it goes to the \
            running aggregator over the federation's mutual-TLS channel, signed with the party's \
            key, and runs there on the federation directory: every world's published catalog, \
            with the same semantics; each entry names its world (party-N).
            """)

    @Option(help: ArgumentHelp("The catalog file (SQLite).", valueName: "FILE")) var catalog: String?
    @Option(help: ArgumentHelp("Ask the aggregator's federation directory instead, as this party (its kit folder).", valueName: "DIR"))
    var kit: String?
    @Option(help: ArgumentHelp("With --kit: the aggregator's HOST:PORT (default: the manifest's).", valueName: "HOST:PORT"))
    var aggregator: String?
    @Option(help: "With --kit: seconds to keep trying to reach the aggregator.") var retryFor = 5
    @OptionGroup var filters: CatalogFilterOptions
    @Option(help: "At most this many results (0 = all).") var limit: Int = CatalogQuery.defaultLimit
    @Flag(help: "Print JSON: an array of entries, each with its world.") var json = false

    func validate() throws {
        if (catalog == nil) == (kit == nil) { throw ValidationError("give either --catalog FILE or --kit DIR") }
        if kit == nil, aggregator != nil { throw ValidationError("--aggregator goes with --kit") }
        guard (0...3600).contains(retryFor) else { throw ValidationError("--retry-for must be between 0 and 3600 seconds") }
        if limit < 0 { throw ValidationError("--limit must be 0 (all) or more") }
    }

    func makeQuery() throws -> CatalogQuery { try filters.query(limit: limit) }

    func run() async throws {
        let query = try makeQuery()
        let matches = if let catalog { try Catalog(path: catalog, access: .readOnly).search(query) } else { try await askFederation(query) }
        if json {
            try printJSON(matches)
            return
        }
        let header = ["world", "id", "kind", "name", "start", "end", "location", "tags"]
        let rows = matches.map { match -> [String] in
            let e = match.entry
            let location = e.location.map { l in ([l.x, l.y] + (l.z.map { [$0] } ?? [])).map { "\($0)" }.joined(separator: ",") }
            return [
                match.world, e.id, e.kind, e.name, e.start?.rfc3339 ?? "-", e.end?.rfc3339 ?? "-", location ?? "-",
                e.tags.joined(separator: ";"),
            ]
        }
        printColumns(header, rows)
        print(
            "\(matches.count) \(matches.count == 1 ? "entry" : "entries")\(query.limit > 0 && matches.count == query.limit ? " (the limit; --limit 0 for all)" : "")"
        )
    }
}

extension CatalogQueryCommand {
    /// Asks the running aggregator's federation directory, as the party of `--kit`.
    func askFederation(_ query: CatalogQuery) async throws -> [CatalogMatch] {
        let loaded = try FederationKit.load(from: URL(fileURLWithPath: kit ?? ""))
        guard loaded.partyID != nil else {
            throw CLIError("\(loaded.folder.path): this is \(loaded.role)'s kit; only parties may query the federation directory (use a party-N/ kit)")
        }
        for warning in loaded.warnings { StatusLine.warn(warning) }
        let address = try aggregator.map { try HostPort(parsing: $0, field: "--aggregator") }
        let connection = try PartyConnection(
            kit: loaded, aggregator: address, retry: RetryPolicy(giveUpAfter: .seconds(retryFor)),
            logger: .quiet("fedshare.status"))
        return try await CatalogPublisher(kit: loaded).ask(query, over: connection)
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
