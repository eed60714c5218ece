import Catalog
import GRDB
import Primitives
import Testing

/// Every filter alone and combined, against a brute-force scan of the same entries, over
/// random catalogs whose values sit on small grids (so entries fall on every boundary often).
@Suite struct QueryOracleTests {
    static let words = [
        "rock", "jazz", "Café", "CAFE", "café", "hip-hop", "東京", "naïve", "Straße", "ÉTÉ", "night",
        "market", "art", "o'clock", "a.b", "x_y", "NEAR", "AND", "or", "*", "\"quoted\"", "(", "-", "^", "tag:1",
    ]
    static let kinds = ["venue", "event", "item", "space"]
    static let worlds = ["local", "world-2", "Ωmega"]
    static let grid: [Double] = [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 0.1, -0.3, 16_777_217]
    static let base = Int64(1_764_619_200_000_001)  // not a float: the R*Tree holds it rounded
    static let hour = Int64(3_600_000_000)

    /// The tokens of each entry's name and tags, as the index splits them.
    struct Oracle {
        let entries: [(world: String, entry: CatalogEntry, tokens: Set<String>)]
        let tokenizer: TextTokenizer

        func matches(_ query: CatalogQuery) throws -> [(world: String, entry: CatalogEntry)] {
            let words = try query.text.map { Set(try tokenizer.tokens($0)) }
            return entries.filter { world, entry, tokens in
                if let words, !words.isSubset(of: tokens) { return false }
                for condition in query.conditions {
                    let value = condition.key == "kind" ? entry.kind : entry.attributes[condition.key]
                    if value != condition.value { return false }
                }
                if query.from != nil || query.to != nil {
                    guard entry.start != nil || entry.end != nil else { return false }
                    if let to = query.to, let start = entry.start, start > to { return false }
                    if let from = query.from, let end = entry.end, end < from { return false }
                }
                if let near = query.near {
                    guard let location = entry.location else { return false }
                    let dx = location.x - near.center.x
                    let dy = location.y - near.center.y
                    var distance = dx * dx + dy * dy
                    if let cz = near.center.z {
                        guard let z = location.z else { return false }
                        distance += (z - cz) * (z - cz)
                    }
                    if !(distance <= near.radius * near.radius) { return false }
                }
                if let box = query.within {
                    guard let l = entry.location, l.x >= box.minX, l.x <= box.maxX, l.y >= box.minY, l.y <= box.maxY else { return false }
                }
                return true
            }.map { ($0.world, $0.entry) }.sorted { a, b in
                a.entry.id == b.entry.id && a.entry.id.utf8.elementsEqual(b.entry.id.utf8)
                    ? a.world.utf8.lexicographicallyPrecedes(b.world.utf8)
                    : a.entry.id.utf8.lexicographicallyPrecedes(b.entry.id.utf8)
            }
        }
    }

    static func randomEntry(_ index: Int, using random: inout SeededRandom) -> CatalogEntry {
        func words(_ range: ClosedRange<Int>) -> [String] { (0..<Int.random(in: range, using: &random)).map { _ in Self.words.randomElement(using: &random)! } }
        var entry = CatalogEntry(
            id: "e\(Int.random(in: 0..<400, using: &random))-\(index)", kind: kinds.randomElement(using: &random)!,
            name: words(0...3).joined(separator: " "), tags: words(0...3))
        for key in ["genre", "city", "ünï"] where Bool.random(using: &random) {
            entry.attributes[key] = ["a", "b", "c", "", "Zürich"].randomElement(using: &random)!
        }
        switch Int.random(in: 0..<5, using: &random) {
        case 0: break
        case 1: entry.start = Instant(microseconds: base + hour * Int64.random(in: -4...4, using: &random))
        case 2: entry.end = Instant(microseconds: base + hour * Int64.random(in: -4...4, using: &random))
        default:
            let start = base + hour * Int64.random(in: -4...4, using: &random)
            entry.start = Instant(microseconds: start)
            entry.end = Instant(microseconds: start + hour * Int64.random(in: 0...3, using: &random))
        }
        if Int.random(in: 0..<5, using: &random) > 0 {
            let z: Double? = Bool.random(using: &random) ? grid.randomElement(using: &random)! : nil
            entry.location = Location(x: grid.randomElement(using: &random)!, y: grid.randomElement(using: &random)!, z: z)
        }
        return entry
    }

    static func randomQuery(using random: inout SeededRandom) -> CatalogQuery {
        var query = CatalogQuery(limit: [0, 0, 1, 5, 100].randomElement(using: &random)!)
        // Each filter with probability 1/3: alone, in pairs, and all together all occur.
        func maybe() -> Bool { Int.random(in: 0..<3, using: &random) == 0 }
        if maybe() {
            query.text = (0..<Int.random(in: 1...2, using: &random)).map { _ in words.randomElement(using: &random)! }.joined(separator: " ")
        }
        if maybe() { query.conditions.append(.init(key: "kind", value: kinds.randomElement(using: &random)!)) }
        if maybe() {
            query.conditions.append(
                .init(
                    key: ["genre", "city", "ünï", "nothing"].randomElement(using: &random)!,
                    value: ["a", "b", "", "Zürich"].randomElement(using: &random)!))
        }
        if maybe() {
            let from = base + hour * Int64.random(in: -5...5, using: &random)
            let to = from + hour * Int64.random(in: 0...2, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: query.from = Instant(microseconds: from)
            case 1: query.to = Instant(microseconds: to)
            default: (query.from, query.to) = (Instant(microseconds: from), Instant(microseconds: to))
            }
        }
        if maybe() {
            let z: Double? = Int.random(in: 0..<4, using: &random) == 0 ? grid.randomElement(using: &random)! : nil
            query.near = .init(
                center: .init(x: grid.randomElement(using: &random)!, y: grid.randomElement(using: &random)!, z: z),
                radius: [0, 0.5, 1, 1.5, 2.5, 5].randomElement(using: &random)!)
        }
        if maybe() {
            query.within = .init(
                grid.randomElement(using: &random)!, grid.randomElement(using: &random)!,
                grid.randomElement(using: &random)!, grid.randomElement(using: &random)!)
        }
        return query
    }

    @Test("random queries agree with a brute-force scan", arguments: 1...16)
    func agreesWithBruteForce(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let catalog = try emptyCatalog()
        let tokenizer = try TextTokenizer()
        var all: [(world: String, entry: CatalogEntry, tokens: Set<String>)] = []
        for world in Self.worlds {
            let entries = (0..<Int.random(in: 50...150, using: &random)).map { Self.randomEntry($0, using: &random) }
            try catalog.importEntries(entries, world: world)
            for entry in entries {
                let tokens = Set(try tokenizer.tokens(entry.name) + entry.tags.flatMap { try tokenizer.tokens($0) })
                all.append((world, entry, tokens))
            }
        }
        let oracle = Oracle(entries: all, tokenizer: tokenizer)
        for number in 0..<200 {
            let query = Self.randomQuery(using: &random)
            let label = "seed \(seed) query \(number): \(query)"
            if let text = query.text, try tokenizer.tokens(text).isEmpty {
                #expect(throws: CatalogError.self, "\(label)") { try catalog.search(query) }
                continue
            }
            let expected = try oracle.matches(query)
            let found = try catalog.search(query)
            if query.text == nil {
                let wanted = query.limit == 0 ? expected : Array(expected.prefix(query.limit))
                #expect(keys(found) == wanted.map { "\($0.world)/\($0.entry.id)" }, "\(label)")
                #expect(found.map(\.entry) == wanted.map(\.entry), "\(label)")
            } else {
                var unlimited = query
                unlimited.limit = 0
                let everything = try catalog.search(unlimited)
                #expect(Set(keys(everything)) == Set(expected.map { "\($0.world)/\($0.entry.id)" }), "\(label)")
                #expect(everything.count == expected.count, "\(label)")
                let ranks = everything.map { $0.rank ?? .nan }
                #expect(zip(ranks, ranks.dropFirst()).allSatisfy { $0 <= $1 }, "\(label): not ranked")
                #expect(keys(found) == Array(keys(everything).prefix(query.limit == 0 ? everything.count : query.limit)), "\(label)")
            }
        }
    }

    @Test(
        "large imports bulk-load the R*Trees: SQLite's rtreecheck passes and queries agree with a brute-force scan",
        arguments: [21, 22] as [UInt64])
    func bulkLoadedTreesAgree(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let catalog = try emptyCatalog()
        let tokenizer = try TextTokenizer()
        var worlds: [String: [String: CatalogEntry]] = [:]
        func check(_ label: String) throws {
            let checks = try DatabaseQueue(path: catalog.path).read { db in
                try String.fetchAll(db, sql: "SELECT rtreecheck('entry_place') UNION ALL SELECT rtreecheck('entry_span')")
            }
            #expect(checks == ["ok", "ok"], "\(label)")
            let all: [(world: String, entry: CatalogEntry, tokens: Set<String>)] = try worlds.flatMap { world, entries in
                try entries.values.map { entry in
                    (world, entry, Set(try tokenizer.tokens(entry.name) + entry.tags.flatMap { try tokenizer.tokens($0) }))
                }
            }
            let oracle = Oracle(entries: all, tokenizer: tokenizer)
            for number in 0..<150 {
                var query = Self.randomQuery(using: &random)
                query.text = nil
                let expected = try oracle.matches(query)
                let wanted = query.limit == 0 ? expected : Array(expected.prefix(query.limit))
                let found = try catalog.search(query)
                #expect(keys(found) == wanted.map { "\($0.world)/\($0.entry.id)" }, "\(label) query \(number): \(query)")
                #expect(found.map(\.entry) == wanted.map(\.entry), "\(label) query \(number)")
            }
        }
        // A first import into an empty catalog, large enough for a bulk load of both trees.
        let first = (0..<3000).map { Self.randomEntry($0, using: &random) }
        try catalog.importEntries(first)
        worlds["local", default: [:]] = Dictionary(uniqueKeysWithValues: first.map { ($0.id, $0) })
        try check("first import")
        // A second large import: a third replaces existing ids (their old boxes must go), the
        // rest is new; the rebuilt trees hold the kept boxes and the new ones.
        var second = (3000..<5000).map { Self.randomEntry($0, using: &random) }
        for index in 0..<1000 {
            let old = first[index * 3]
            second[index].id = old.id
        }
        try catalog.importEntries(second)
        for entry in second { worlds["local"]![entry.id] = entry }
        try check("second import")
        // A small import takes SQLite's own inserts into the packed trees.
        let small = (5000..<5100).map { Self.randomEntry($0, using: &random) }
        try catalog.importEntries(small, world: "world-2")
        worlds["world-2"] = Dictionary(uniqueKeysWithValues: small.map { ($0.id, $0) })
        try check("small import")
        // A large world replacement next to another world.
        let replacement = (6000..<8500).map { Self.randomEntry($0, using: &random) }
        try catalog.replaceWorld("local", with: replacement)
        worlds["local"] = Dictionary(uniqueKeysWithValues: replacement.map { ($0.id, $0) })
        try check("world replaced")
        try catalog.removeWorld("local")
        worlds["local"] = nil
        try check("world removed")
    }
}
