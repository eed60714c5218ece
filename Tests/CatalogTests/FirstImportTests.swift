import Catalog
import Foundation
import GRDB
import Primitives
import Testing

/// A large import into an empty catalog builds its full-text index and R*Trees on other threads
/// and copies them in; everything else takes the ordinary import. Both must give the same catalog.
@Suite struct FirstImportTests {
    typealias Oracle = QueryOracleTests.Oracle

    /// `count` random entries on the oracle tests' grids (ids unique within the batch).
    static func entries(_ count: Int, seed: UInt64) -> [CatalogEntry] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { QueryOracleTests.randomEntry($0, using: &random) }
    }

    static func oracle(_ worlds: [String: [CatalogEntry]], _ tokenizer: TextTokenizer) throws -> Oracle {
        let all: [(world: String, entry: CatalogEntry, tokens: Set<String>)] = try worlds.flatMap { world, entries in
            try entries.map { entry in
                (world, entry, Set(try tokenizer.tokens(entry.name) + entry.tags.flatMap { try tokenizer.tokens($0) }))
            }
        }
        return Oracle(entries: all, tokenizer: tokenizer)
    }

    /// The same catalog the ordinary way: batches under the first-import minimum (1000), the
    /// first into the empty catalog, the rest into a catalog that holds entries.
    static func ordinaryCatalog(_ entries: [CatalogEntry], world: String) throws -> Catalog {
        let catalog = try emptyCatalog()
        for start in stride(from: 0, to: entries.count, by: 900) {
            try catalog.importEntries(Array(entries[start..<min(start + 900, entries.count)]), world: world)
        }
        return catalog
    }

    /// SQLite's own checks of the full-text index and both R*Trees.
    static func integrity(_ catalog: Catalog) throws -> [String] {
        try DatabaseQueue(path: catalog.path).write { db in
            try db.execute(sql: "INSERT INTO entry_text (entry_text) VALUES ('integrity-check')")
            return try String.fetchAll(db, sql: "SELECT rtreecheck('entry_place') UNION ALL SELECT rtreecheck('entry_span')")
        }
    }

    /// Whether the catalog's full-text table was made anew after the schema was created, as a
    /// first import does (its schema row then follows the R*Trees'): the sign that the first
    /// import, not the ordinary one, ran.
    static func textIndexMadeAnew(_ catalog: Catalog) throws -> Bool {
        try DatabaseQueue(path: catalog.path).read { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT (SELECT rowid FROM sqlite_master WHERE name = 'entry_text')
                         > (SELECT rowid FROM sqlite_master WHERE name = 'entry_span')
                    """) ?? false
        }
    }

    /// Files in the catalog's folder other than the catalog (a side file or a journal left behind).
    static func strayFiles(_ catalog: Catalog) throws -> [String] {
        let folder = URL(fileURLWithPath: catalog.path).deletingLastPathComponent().path
        return try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0 != "catalog.sqlite" }
    }

    /// Runs `queries` random queries on `catalog` and `ordinary` (when given) against the oracle:
    /// the same entries in the same order, and with text the same ranks on both catalogs.
    static func expectAgreement(
        _ catalog: Catalog, _ ordinary: Catalog?, _ oracle: Oracle, queries: Int, seed: UInt64, _ label: String
    ) throws {
        var random = SeededRandom(seed: seed)
        let tokenizer = oracle.tokenizer
        var textQueries = 0
        for number in 0..<queries {
            var query = QueryOracleTests.randomQuery(using: &random)
            if number % 3 == 0 { query.text = query.text ?? QueryOracleTests.words.randomElement(using: &random)! }
            if let text = query.text, try tokenizer.tokens(text).isEmpty { query.text = nil }
            let label = "\(label) query \(number): \(query)"
            let expected = try oracle.matches(query)
            let found = try catalog.search(query)
            if let ordinary {
                let other = try ordinary.search(query)
                #expect(keys(found) == keys(other) && found.map(\.rank) == other.map(\.rank), "\(label): differs from the ordinary import")
            }
            if query.text == nil {
                let wanted = query.limit == 0 ? expected : Array(expected.prefix(query.limit))
                #expect(keys(found) == wanted.map { "\($0.world)/\($0.entry.id)" }, "\(label)")
                #expect(found.map(\.entry) == wanted.map(\.entry), "\(label)")
            } else {
                textQueries += 1
                var unlimited = query
                unlimited.limit = 0
                let everything = try catalog.search(unlimited)
                #expect(Set(keys(everything)) == Set(expected.map { "\($0.world)/\($0.entry.id)" }), "\(label)")
                #expect(everything.count == expected.count, "\(label)")
                #expect(keys(found) == Array(keys(everything).prefix(query.limit == 0 ? everything.count : query.limit)), "\(label)")
            }
        }
        #expect(textQueries > queries / 4)
    }

    @Test(
        "a first import answers every query as the ordinary import and the oracle do",
        arguments: [(31, Catalog.localWorld), (32, "Ωmega")] as [(UInt64, String)])
    func agreesWithOrdinaryImport(seed: UInt64, world: String) throws {
        let entries = Self.entries(3000, seed: seed)
        let catalog = try emptyCatalog()
        try catalog.importEntries(entries, world: world)
        let ordinary = try Self.ordinaryCatalog(entries, world: world)
        #expect(try Self.textIndexMadeAnew(catalog) && !Self.textIndexMadeAnew(ordinary))
        #expect(try Self.integrity(catalog) == ["ok", "ok"])
        #expect(try catalog.stats() == ordinary.stats().with(fileBytes: catalog.stats().fileBytes))
        #expect(try catalog.export(world: world) == ordinary.export(world: world))
        #expect(try Self.strayFiles(catalog).isEmpty)
        let oracle = try Self.oracle([world: entries], TextTokenizer())
        try Self.expectAgreement(catalog, ordinary, oracle, queries: 300, seed: seed, "first import")
    }

    @Test("a first import through replaceWorld, with and without a version, is the same catalog", arguments: [false, true])
    func replaceWorldIntoEmptyCatalog(versioned: Bool) throws {
        let entries = Self.entries(2000, seed: 41)
        let catalog = try emptyCatalog()
        if versioned {
            try catalog.replaceWorld("party-2", with: entries, version: 7)
            #expect(try catalog.version(of: "party-2") == 7)
        } else {
            try catalog.replaceWorld("party-2", with: entries)
        }
        #expect(try Self.textIndexMadeAnew(catalog))
        #expect(try Self.integrity(catalog) == ["ok", "ok"])
        let oracle = try Self.oracle(["party-2": entries], TextTokenizer())
        try Self.expectAgreement(catalog, try Self.ordinaryCatalog(entries, world: "party-2"), oracle, queries: 150, seed: 42, "replaceWorld")
    }

    @Test("after a first import, small imports, replacements and removals work as on any catalog")
    func laterChanges() throws {
        let tokenizer = try TextTokenizer()
        let catalog = try emptyCatalog()
        // Queries before the import leave this connection's FTS5 with the empty index cached.
        try catalog.importEntries([CatalogEntry(id: "first", kind: "venue", name: "night market")])
        #expect(try keys(catalog.search(CatalogQuery(text: "market"))) == ["local/first"])
        try catalog.removeWorld(Catalog.localWorld)
        #expect(try catalog.search(CatalogQuery(text: "market")).isEmpty)

        let first = Self.entries(2500, seed: 51)
        try catalog.importEntries(first)
        #expect(try Self.textIndexMadeAnew(catalog))
        var worlds = [Catalog.localWorld: Dictionary(uniqueKeysWithValues: first.map { ($0.id, $0) })]
        func check(_ label: String, seed: UInt64) throws {
            #expect(try Self.integrity(catalog) == ["ok", "ok"], "\(label)")
            let oracle = try Self.oracle(worlds.mapValues { Array($0.values) }, tokenizer)
            try Self.expectAgreement(catalog, nil, oracle, queries: 150, seed: seed, label)
        }
        try check("first import", seed: 52)

        // A small import replacing ids of the first (FTS5 deletes them with their indexed text).
        var random = SeededRandom(seed: 53)
        var small = (5000..<5040).map { QueryOracleTests.randomEntry($0, using: &random) }
        for index in 0..<20 { small[index].id = first[index * 100].id }
        try catalog.importEntries(small)
        for entry in small { worlds[Catalog.localWorld]![entry.id] = entry }
        try check("small import", seed: 54)
        let gone = CatalogEntry(id: first[0].id, kind: "venue", name: "zzzunique")
        try catalog.importEntries([gone])
        worlds[Catalog.localWorld]![gone.id] = gone
        #expect(try keys(catalog.search(CatalogQuery(text: "zzzunique"))) == ["local/\(gone.id)"])

        // Another world, then the first world replaced and removed.
        let other = (6000..<6300).map { QueryOracleTests.randomEntry($0, using: &random) }
        try catalog.replaceWorld("world-2", with: other)
        worlds["world-2"] = Dictionary(uniqueKeysWithValues: other.map { ($0.id, $0) })
        try check("second world", seed: 55)
        let replacement = (7000..<8200).map { QueryOracleTests.randomEntry($0, using: &random) }
        try catalog.replaceWorld(Catalog.localWorld, with: replacement)
        worlds[Catalog.localWorld] = Dictionary(uniqueKeysWithValues: replacement.map { ($0.id, $0) })
        try check("world replaced", seed: 56)
        try catalog.removeWorld(Catalog.localWorld)
        worlds[Catalog.localWorld] = nil
        try check("world removed", seed: 57)
        #expect(try Self.strayFiles(catalog).isEmpty)
    }

    @Test("a first import with an invalid entry or a repeated id late in the batch imports nothing")
    func invalidEntryLate() throws {
        let catalog = try emptyCatalog()
        var invalid = Self.entries(3000, seed: 71)
        invalid[2990].start = Instant(microseconds: 10)
        invalid[2990].end = Instant(microseconds: 5)
        #expect(throws: CatalogError.self) { try catalog.importEntries(invalid) }
        var repeated = Self.entries(3000, seed: 72)
        repeated[2995].id = repeated[7].id
        #expect(throws: CatalogError.invalidEntry(file: "entries", line: 2996, field: "id", reason: "\"\(repeated[7].id)\" is already on line 8")) {
            try catalog.replaceWorld("w", with: repeated)
        }
        #expect(try catalog.stats().entries == 0)
        #expect(try catalog.search(CatalogQuery(text: "rock")).isEmpty)
        #expect(try Self.strayFiles(catalog).isEmpty)
        #expect(try !Self.textIndexMadeAnew(catalog))
    }

    /// How a first import is made to fail, and where.
    enum Failure: String, CaseIterable {
        /// An `entries` insert late in the batch fails, while the other threads work.
        case lateEntry
        /// The commit fails, after the indexes were copied in (a deferred foreign key).
        case commit
    }

    @Test("a first import that fails leaves nothing behind, and the next one succeeds", arguments: Failure.allCases)
    func failureLeavesNothing(_ failure: Failure) throws {
        let catalog = try emptyCatalog()
        // This connection's FTS5 has seen the empty index (cached) before the failed import.
        #expect(try catalog.search(CatalogQuery(text: "rock")).isEmpty)
        let entries = Self.entries(3000, seed: 61)
        let late = entries[2990].id
        try DatabaseQueue(path: catalog.path).write { db in
            switch failure {
            case .lateEntry:
                try db.execute(sql: "CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.id = '\(late)' BEGIN SELECT RAISE(ABORT, 'boom'); END")
            case .commit:
                try db.execute(
                    sql: """
                        CREATE TABLE parent (id INTEGER PRIMARY KEY);
                        CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                        CREATE TRIGGER boom AFTER INSERT ON entries WHEN NEW.id = '\(late)' BEGIN INSERT INTO child VALUES (42); END;
                        """)
            }
        }
        #expect(throws: CatalogError.self) { try catalog.importEntries(entries) }
        let stats = try catalog.stats()
        #expect(stats.entries == 0 && stats.attributes.isEmpty && stats.withTime == 0 && stats.withLocation == 0)
        #expect(try catalog.search(CatalogQuery(text: "rock")).isEmpty)
        #expect(try catalog.search(CatalogQuery(near: .init(center: .init(x: 0, y: 0), radius: 5))).isEmpty)
        #expect(try catalog.search(CatalogQuery(from: Instant(microseconds: 0))).isEmpty)
        #expect(try Self.integrity(catalog) == ["ok", "ok"])
        #expect(try Self.strayFiles(catalog).isEmpty)
        #expect(try !Self.textIndexMadeAnew(catalog))  // rolled back with the rest

        try DatabaseQueue(path: catalog.path).write { db in try db.execute(sql: "DROP TRIGGER boom") }
        try catalog.importEntries(entries)
        #expect(try Self.textIndexMadeAnew(catalog))
        #expect(try Self.integrity(catalog) == ["ok", "ok"])
        let oracle = try Self.oracle([Catalog.localWorld: entries], TextTokenizer())
        try Self.expectAgreement(catalog, nil, oracle, queries: 100, seed: 62, "after the failure")
    }
}

extension Catalog.Stats {
    func with(fileBytes: Int64) -> Self {
        var copy = self
        copy.fileBytes = fileBytes
        return copy
    }
}
