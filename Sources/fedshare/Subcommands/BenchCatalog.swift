import ArgumentParser
import Catalog
import Foundation
import Primitives

/// `fedshare bench catalog`: import rate and query latency of the catalog index, against a
/// brute-force scan of the same entries in memory.
struct BenchCatalog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Measure catalog import rate and query latency against a brute-force scan.",
        discussion: """
            Generates --entries entries deterministically (names of two words from a vocabulary of \
            entries/20 words, 1–3 of 200 tags, a city out of entries/100 and a genre out of 50, events \
            in 2025 lasting 10–60 minutes, 90 % located on a 10 000 × 10 000 map, a third of those \
            with z), writes them as JSONL, reads the file back (parse), imports it into a new catalog \
            (store), then times --queries queries of each sort, each sort built to match about 50 \
            entries, and the same queries by a scan over the entries in memory. Results of both are \
            compared; a mismatch is reported.
            """)

    @Option(help: "Entries to generate.") var entries: Int = 100_000
    @Option(help: "Queries of each sort.") var queries: Int = 200
    @Option(help: "Seed of the generator.") var seed: UInt64 = 13
    @Option(help: ArgumentHelp("Keep the catalog file here (default: a temporary file, removed).", valueName: "FILE")) var keep: String?
    @OptionGroup var output: JSONOutputOptions

    struct QueryRow: Encodable {
        let name: String
        let queries: Int
        let p50Milliseconds: Double
        let p99Milliseconds: Double
        let meanResults: Double
        let maxResults: Int
        let bruteForceP50Milliseconds: Double
        let speedup: Double
        let mismatches: Int
    }

    struct Output: Encodable {
        let entries: Int
        let fileBytes: Int64
        let parseSeconds: Double
        let parseEntriesPerSecond: Double
        let importSeconds: Double
        let importEntriesPerSecond: Double
        let queries: [QueryRow]
    }

    func validate() throws {
        if entries < 1000 { throw ValidationError("--entries must be at least 1000") }
        if queries < 1 { throw ValidationError("--queries must be at least 1") }
    }

    func run() throws {
        let data = BenchCatalogData(count: entries, seed: seed)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-bench-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("entries.jsonl").path
        try Catalog.canonicalJSONLines(data.entries).write(to: URL(fileURLWithPath: file))
        let path = keep ?? folder.appendingPathComponent("catalog.sqlite").path
        if keep != nil, FileManager.default.fileExists(atPath: path) { throw CLIError("\(path): exists; --keep needs a new file") }

        let (read, parseSeconds) = try Throughput.time { try EntryFile.read(path: file) }
        let catalog = try Catalog(path: path, access: .create)
        let (_, importSeconds) = try Throughput.time { try catalog.importEntries(read) }
        let scan = BruteForce(entries: data.entries)

        var random = SeededRandom(seed: seed ^ 0x5EED)
        var rows: [QueryRow] = []
        for sort in BenchCatalogData.QuerySort.allCases {
            let batch = (0..<queries).map { _ in data.query(sort, using: &random) }
            _ = try catalog.search(batch[0])  // warm the page cache and the statement cache once
            var indexTimes: [Double] = []
            var scanTimes: [Double] = []
            var sizes: [Int] = []
            var mismatches = 0
            for query in batch {
                let (found, seconds) = try Throughput.time { try catalog.search(query) }
                let (expected, scanSeconds) = Throughput.time { scan.matches(query) }
                indexTimes.append(seconds * 1000)
                scanTimes.append(scanSeconds * 1000)
                sizes.append(found.count)
                let ids = found.map(\.entry.id)
                let same =
                    query.text == nil || expected.count > query.limit
                    ? ids == Array(expected.prefix(query.limit)) || (query.text != nil && ids.count == query.limit)
                    : Set(ids) == Set(expected) && ids.count == expected.count
                if !same { mismatches += 1 }
            }
            let p50 = percentile(indexTimes, 0.5)
            let scanP50 = percentile(scanTimes, 0.5)
            rows.append(
                QueryRow(
                    name: sort.rawValue, queries: batch.count, p50Milliseconds: p50, p99Milliseconds: percentile(indexTimes, 0.99),
                    meanResults: Double(sizes.reduce(0, +)) / Double(sizes.count), maxResults: sizes.max() ?? 0,
                    bruteForceP50Milliseconds: scanP50, speedup: scanP50 / p50, mismatches: mismatches))
        }
        let output = Output(
            entries: entries, fileBytes: try catalog.stats().fileBytes,
            parseSeconds: parseSeconds, parseEntriesPerSecond: Double(entries) / parseSeconds,
            importSeconds: importSeconds, importEntriesPerSecond: Double(entries) / importSeconds, queries: rows)
        if self.output.json {
            try printJSON(output)
        } else {
            print("\(entries) entries, catalog file \(output.fileBytes / 1_000_000) MB")
            print(String(format: "parse JSONL   %8.2f s  %10.0f entries/s", parseSeconds, output.parseEntriesPerSecond))
            print(String(format: "import        %8.2f s  %10.0f entries/s", importSeconds, output.importEntriesPerSecond))
            for row in rows {
                print(
                    "\(row.name.padding(toLength: 12, withPad: " ", startingAt: 0))"
                        + String(
                            format: "  p50 %7.3f ms  p99 %7.3f ms  results %5.1f (max %d)  brute force p50 %8.2f ms  ×%.0f",
                            row.p50Milliseconds, row.p99Milliseconds, row.meanResults, row.maxResults,
                            row.bruteForceP50Milliseconds, row.speedup)
                        + (row.mismatches > 0 ? "  MISMATCHES \(row.mismatches)" : ""))
            }
        }
        if rows.contains(where: { $0.mismatches > 0 }) { throw CLIError("the index and the brute-force scan disagree") }
    }

    func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}

/// The generated entries and the vocabularies queries draw from.
struct BenchCatalogData {
    enum QuerySort: String, CaseIterable {
        case text, attribute, time, location
        case combined = "combined"
        case combinedText = "combined+text"
    }

    static let yearStart = Int64(1_735_689_600_000_000)  // 2025-01-01T00:00:00Z
    static let year = Int64(365 * 86_400) * 1_000_000
    static let minute = Int64(60_000_000)
    static let side = 10_000.0

    let entries: [CatalogEntry]
    let words: [String]
    let cities: Int
    let count: Int

    init(count: Int, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        self.count = count
        words = (0..<max(1000, count / 20)).map { "w" + String($0 &* 2_654_435_761 % 1_000_000_007, radix: 36) }
        cities = max(10, count / 100)
        let kinds = ["venue", "venue", "venue", "event", "event", "event", "event", "item", "item", "space"]
        var entries: [CatalogEntry] = []
        entries.reserveCapacity(count)
        for index in 0..<count {
            let kind = kinds.randomElement(using: &random)!
            var entry = CatalogEntry(
                id: String(format: "%@-%08d", kind, index), kind: kind,
                name: "\(words.randomElement(using: &random)!) \(words.randomElement(using: &random)!)",
                tags: (0..<Int.random(in: 1...3, using: &random)).map { _ in String(format: "tag%03d", Int.random(in: 0..<200, using: &random)) },
                attributes: ["city": "c\(Int.random(in: 0..<cities, using: &random))", "genre": "g\(Int.random(in: 0..<50, using: &random))"])
            if kind == "event" {
                let start = Self.yearStart + Int64.random(in: 0..<Self.year, using: &random)
                entry.start = Instant(microseconds: start)
                entry.end = Instant(microseconds: start + Self.minute * Int64.random(in: 10...60, using: &random))
            }
            if Int.random(in: 0..<10, using: &random) < 9 {
                let z: Double? = Int.random(in: 0..<3, using: &random) == 0 ? Double.random(in: 0..<100, using: &random) : nil
                entry.location = Location(x: Double.random(in: 0..<Self.side, using: &random), y: Double.random(in: 0..<Self.side, using: &random), z: z)
            }
            entries.append(entry)
        }
        self.entries = entries
    }

    /// A query of the given sort, sized to match about 50 entries.
    func query(_ sort: QuerySort, using random: inout SeededRandom) -> CatalogQuery {
        var query = CatalogQuery()
        let centre = CatalogQuery.Point(x: Double.random(in: 0..<Self.side, using: &random), y: Double.random(in: 0..<Self.side, using: &random))
        // 0.9 of the entries spread over side²: about 50 in a circle of this radius.
        let radius = (50 / (0.9 * Double(count) * Double.pi) * Self.side * Self.side).squareRoot()
        let start = Self.yearStart + Int64.random(in: 0..<Self.year, using: &random)
        switch sort {
        case .text:
            query.text = words.randomElement(using: &random)!
        case .attribute:
            query.conditions = [.init(key: "city", value: "c\(Int.random(in: 0..<cities, using: &random))")]
        case .time:
            // 0.4 of the entries are events of 35 minutes on average: a window of w minutes meets
            // about 0.4·n·(w + 35)/525 600 of them.
            let window = max(1, 50 * 525_600 / (0.4 * Double(count)) - 35)
            query.from = Instant(microseconds: start)
            query.to = Instant(microseconds: start + Int64(window * 60_000_000))
        case .location:
            query.near = .init(center: centre, radius: radius)
        case .combined:
            query.conditions = [.init(key: "city", value: "c\(Int.random(in: 0..<cities, using: &random))"), .init(key: "kind", value: "event")]
            query.from = Instant(microseconds: start)
            query.to = Instant(microseconds: start + 180 * 86_400_000_000)
            query.within = .init(centre.x - 3500, centre.y - 3500, centre.x + 3500, centre.y + 3500)
        case .combinedText:
            query.text = words.randomElement(using: &random)!
            query.conditions = [.init(key: "kind", value: ["venue", "event"].randomElement(using: &random)!)]
            query.near = .init(center: centre, radius: 6000)
        }
        return query
    }
}

/// The same queries by looking at every entry (case-folded ASCII tokens: the generated text is
/// ASCII, where this and unicode61 agree).
struct BruteForce {
    let entries: [CatalogEntry]
    let tokens: [Set<Substring>]

    init(entries: [CatalogEntry]) {
        self.entries = entries
        tokens = entries.map { entry in
            Set(([entry.name] + entry.tags).flatMap { $0.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) })
        }
    }

    /// Ids of the matches, ordered by id.
    func matches(_ query: CatalogQuery) -> [String] {
        let words = query.text.map { Set($0.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber })) }
        var result: [String] = []
        for (index, entry) in entries.enumerated() {
            if let words, !words.isSubset(of: tokens[index]) { continue }
            if !query.conditions.allSatisfy({ ($0.key == "kind" ? entry.kind : entry.attributes[$0.key]) == $0.value }) { continue }
            if query.from != nil || query.to != nil {
                guard entry.start != nil || entry.end != nil else { continue }
                if let to = query.to, let start = entry.start, start > to { continue }
                if let from = query.from, let end = entry.end, end < from { continue }
            }
            if let near = query.near {
                guard let l = entry.location else { continue }
                let dx = l.x - near.center.x
                let dy = l.y - near.center.y
                if !(dx * dx + dy * dy <= near.radius * near.radius) { continue }
            }
            if let box = query.within {
                guard let l = entry.location, l.x >= box.minX, l.x <= box.maxX, l.y >= box.minY, l.y <= box.maxY else { continue }
            }
            result.append(entry.id)
        }
        return result.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
