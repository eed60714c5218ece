import Catalog
import Foundation
import Primitives
import Testing

@Suite struct IndexTests {
    @Test("text: whole tokens, case and diacritics folded, every word required")
    func unicodeText() throws {
        let catalog = try emptyCatalog()
        try catalog.importEntries([
            CatalogEntry(id: "a", kind: "venue", name: "Café del Mar", tags: ["chill-out", "東京"]),
            CatalogEntry(id: "b", kind: "venue", name: "cafeteria", tags: ["Straße"]),
            CatalogEntry(id: "c", kind: "event", name: "HIP-HOP night", tags: ["naïve art"]),
        ])
        func ids(_ text: String) throws -> [String] { try catalog.search(CatalogQuery(text: text)).map(\.entry.id).sorted() }
        #expect(try ids("cafe") == ["a"])
        #expect(try ids("CAFÉ MAR") == ["a"])
        #expect(try ids("caf") == [])
        #expect(try ids("東京") == ["a"])
        #expect(try ids("chill") == ["a"])
        #expect(try ids("out chill") == ["a"])
        #expect(try ids("straße") == ["b"])
        #expect(try ids("hip hop") == ["c"])
        #expect(try ids("hip-hop NAIVE") == ["c"])
        #expect(try ids("night cafe") == [])
        #expect(try catalog.search(CatalogQuery(text: "cafe")).allSatisfy { $0.rank != nil })
    }

    @Test(
        "user text is never FTS5 syntax",
        arguments: [
            "\"", "cafe\" OR \"b", "NEAR(cafe mar)", "cafe*", "-cafe", "name:cafe",
            "cafe AND", "^cafe", "(cafe", "cafe OR night", "{name} : cafe",
        ])
    func textInjection(_ text: String) throws {
        let catalog = try emptyCatalog()
        try catalog.importEntries([
            CatalogEntry(id: "a", kind: "venue", name: "Café del Mar"),
            CatalogEntry(id: "b", kind: "venue", name: "night or and near name"),
        ])
        let tokenizer = try TextTokenizer()
        let words = Set(try tokenizer.tokens(text))
        guard !words.isEmpty else {
            #expect(throws: CatalogError.invalidQuery(option: "--text", reason: "no words to search for in \"\(text)\"")) {
                try catalog.search(CatalogQuery(text: text))
            }
            return
        }
        let expected = [("a", "Café del Mar"), ("b", "night or and near name")]
            .filter { words.isSubset(of: Set(try! tokenizer.tokens($0.1))) }.map(\.0)
        #expect(try catalog.search(CatalogQuery(text: text)).map(\.entry.id).sorted() == expected)
    }

    @Test("every range includes its boundary, also where floats cannot hold the value")
    func boundaries() throws {
        let catalog = try emptyCatalog()
        let t0 = Instant(microseconds: 1_764_619_200_000_001)  // not representable as a float
        let t1 = Instant(microseconds: 1_764_619_200_000_003)
        try catalog.importEntries([
            CatalogEntry(id: "circle", kind: "venue", name: "x", location: Location(x: 3, y: 4)),
            CatalogEntry(id: "odd", kind: "venue", name: "x", location: Location(x: 16_777_217, y: 0.1, z: 0.1)),
            CatalogEntry(id: "ball", kind: "venue", name: "x", location: Location(x: 1, y: 2, z: 2)),
            CatalogEntry(id: "span", kind: "event", name: "x", start: t0, end: t1),
            CatalogEntry(id: "open-end", kind: "event", name: "x", start: t1),
            CatalogEntry(id: "open-start", kind: "event", name: "x", end: t0),
            CatalogEntry(id: "timeless", kind: "event", name: "x"),
        ])
        func ids(_ query: CatalogQuery) throws -> [String] { try catalog.search(query).map(\.entry.id) }
        let origin = CatalogQuery.Point(x: 0, y: 0)
        #expect(try ids(CatalogQuery(near: .init(center: origin, radius: 5))) == ["ball", "circle"])
        #expect(try ids(CatalogQuery(near: .init(center: origin, radius: 4.999999999))) == ["ball"])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 16_777_217, y: 0.1), radius: 0))) == ["odd"])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 16_777_216, y: 0.1), radius: 0))) == [])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 16_777_217, y: 0.1, z: 0.1), radius: 0))) == ["odd"])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 1, y: 2, z: 0), radius: 2))) == ["ball"])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 3, y: 4, z: 0), radius: 100))) == ["ball"])  // "circle" has no z
        #expect(try ids(CatalogQuery(within: .init(3, 4, 16_777_217, 0.1))) == ["circle", "odd"])
        #expect(try ids(CatalogQuery(within: .init(3, 4, 16_777_216, 0.1))) == ["circle"])
        #expect(try ids(CatalogQuery(within: .init(-3, -4, 3.0000000001, 4))) == ["ball", "circle"])
        // Time: closed intervals; an absent side is open; no time never matches.
        #expect(try ids(CatalogQuery(from: t1, to: t1)) == ["open-end", "span"])
        #expect(try ids(CatalogQuery(from: t0, to: t0)) == ["open-start", "span"])
        #expect(try ids(CatalogQuery(from: Instant(microseconds: t0.microseconds + 1), to: Instant(microseconds: t0.microseconds + 1))) == ["span"])
        #expect(try ids(CatalogQuery(to: Instant(microseconds: t0.microseconds - 1))) == ["open-start"])
        #expect(try ids(CatalogQuery(from: Instant(microseconds: t1.microseconds + 1))) == ["open-end"])
        #expect(try ids(CatalogQuery(from: Instant(microseconds: 0))) == ["open-end", "open-start", "span"])
    }

    @Test func refusesMeaninglessQueries() throws {
        let catalog = try emptyCatalog()
        #expect(throws: CatalogError.self) { try catalog.search(CatalogQuery(limit: -1)) }
        #expect(throws: CatalogError.self) { try catalog.search(CatalogQuery(from: instant("2025-01-02T00:00:00Z"), to: instant("2025-01-01T00:00:00Z"))) }
        #expect(throws: CatalogError.self) { try catalog.search(CatalogQuery(near: .init(center: .init(x: 0, y: 0), radius: -1))) }
        #expect(throws: CatalogError.self) { try catalog.search(CatalogQuery(text: "!!! ...")) }
        #expect(try CatalogQuery.Point(parsing: "-10.5,3") == .init(x: -10.5, y: 3))
        #expect(try CatalogQuery.Point(parsing: "1,-2,-3e2") == .init(x: 1, y: -2, z: -300))
        #expect(throws: CatalogError.self) { try CatalogQuery.Point(parsing: "1") }
        #expect(throws: CatalogError.self) { try CatalogQuery.Point(parsing: "1,,2") }
        #expect(throws: CatalogError.self) { try CatalogQuery.Point(parsing: "1,inf") }
        #expect(try CatalogQuery.Box(parsing: "2,-1,-2,1") == .init(-2, -1, 2, 1))
        #expect(try CatalogQuery.Condition(parsing: "genre=a=b") == .init(key: "genre", value: "a=b"))
        #expect(try CatalogQuery.Condition(parsing: "genre=") == .init(key: "genre", value: ""))
        #expect(throws: CatalogError.self) { try CatalogQuery.Condition(parsing: "=x") }
        #expect(throws: CatalogError.self) { try CatalogQuery.Condition(parsing: "genre") }
    }

    @Test("re-importing an id replaces the entry in every index")
    func reimportReplaces() throws {
        let catalog = try emptyCatalog()
        try catalog.importEntries([
            CatalogEntry(
                id: "a", kind: "venue", name: "old name", tags: ["oldtag"], attributes: ["genre": "rock"],
                start: instant("2025-01-01T00:00:00Z"), end: instant("2025-01-02T00:00:00Z"), location: Location(x: 0, y: 0)),
            CatalogEntry(id: "b", kind: "venue", name: "other"),
        ])
        try catalog.importEntries([
            CatalogEntry(
                id: "a", kind: "event", name: "new name", tags: ["newtag"], attributes: ["genre": "jazz"],
                start: instant("2026-01-01T00:00:00Z"), location: Location(x: 10, y: 10))
        ])
        func ids(_ query: CatalogQuery) throws -> [String] { try catalog.search(query).map(\.entry.id) }
        #expect(try catalog.stats().entries == 2)
        #expect(try ids(CatalogQuery(text: "old")) == [] && ids(CatalogQuery(text: "oldtag")) == [])
        #expect(try ids(CatalogQuery(text: "new newtag")) == ["a"])
        #expect(try ids(CatalogQuery(conditions: [.init(key: "genre", value: "rock")])) == [])
        #expect(try ids(CatalogQuery(conditions: [.init(key: "genre", value: "jazz"), .init(key: "kind", value: "event")])) == ["a"])
        #expect(try ids(CatalogQuery(conditions: [.init(key: "kind", value: "venue")])) == ["b"])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 0, y: 0), radius: 1))) == [])
        #expect(try ids(CatalogQuery(near: .init(center: .init(x: 10, y: 10), radius: 1))) == ["a"])
        #expect(try ids(CatalogQuery(from: instant("2025-01-01T12:00:00Z"), to: instant("2025-01-01T13:00:00Z"))) == [])
        #expect(try ids(CatalogQuery(from: instant("2030-01-01T00:00:00Z"))) == ["a"])
    }

    @Test("a world is replaced whole and alone; a refused replacement leaves it as it was")
    func worldReplacement() throws {
        let catalog = try emptyCatalog()
        try catalog.importEntries([CatalogEntry(id: "x", kind: "venue", name: "mine")])
        try catalog.replaceWorld(
            "party-2",
            with: [
                CatalogEntry(id: "x", kind: "venue", name: "theirs"),
                CatalogEntry(id: "y", kind: "venue", name: "theirs too"),
            ])
        #expect(try keys(catalog.search(CatalogQuery())) == ["local/x", "party-2/x", "party-2/y"])
        try catalog.replaceWorld("party-2", with: [CatalogEntry(id: "z", kind: "item", name: "fresh", tags: ["theirs"])])
        #expect(try keys(catalog.search(CatalogQuery())) == ["local/x", "party-2/z"])
        #expect(try keys(catalog.search(CatalogQuery(text: "theirs"))) == ["party-2/z"])
        #expect(throws: CatalogError.self) {
            try catalog.replaceWorld("party-2", with: [CatalogEntry(id: "w", kind: "item", name: "ok"), CatalogEntry(id: "", kind: "item", name: "bad")])
        }
        #expect(try keys(catalog.search(CatalogQuery())) == ["local/x", "party-2/z"])
        #expect(try catalog.stats().worlds == ["local": 1, "party-2": 1])
        try catalog.removeWorld("party-2")
        #expect(try keys(catalog.search(CatalogQuery())) == ["local/x"])
    }

    @Test("the export is canonical, and reads back as the same entries")
    func canonicalExport() throws {
        var random = SeededRandom(seed: 99)
        let entries = (0..<200).map { QueryOracleTests.randomEntry($0, using: &random) }
        let first = try emptyCatalog()
        try first.importEntries(entries)
        let second = try emptyCatalog()
        try second.importEntries(entries.reversed())
        let bytes = try first.export()
        #expect(bytes == (try second.export()))
        #expect(bytes == (try Catalog.canonicalJSONLines(entries)))
        let path = try temporaryPath("export.jsonl")
        try bytes.write(to: URL(fileURLWithPath: path))
        let readBack = try EntryFile.read(path: path)
        #expect(readBack == entries.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) })
        let venues = try first.export(matching: CatalogQuery(conditions: [.init(key: "kind", value: "venue")]))
        #expect(venues == (try Catalog.canonicalJSONLines(entries.filter { $0.kind == "venue" })))
        let line = String(decoding: try CatalogEntry(id: "a", kind: "k", name: "n", start: instant("2025-12-01T21:00:00+01:00")).canonicalJSON(), as: UTF8.self)
        #expect(line == #"{"attributes":{},"id":"a","kind":"k","name":"n","start":"2025-12-01T20:00:00Z","tags":[]}"#)
    }

    @Test func statsCountWhatIsThere() throws {
        let catalog = try emptyCatalog()
        try catalog.importEntries([
            CatalogEntry(id: "a", kind: "venue", name: "n", attributes: ["city": "x"], location: Location(x: 1, y: 2, z: 3)),
            CatalogEntry(id: "b", kind: "event", name: "n", start: instant("2025-01-01T00:00:00Z")),
            CatalogEntry(id: "c", kind: "event", name: "n", end: instant("2025-01-01T00:00:00Z"), location: Location(x: 1, y: 2)),
        ])
        let stats = try catalog.stats()
        #expect(stats.entries == 3 && stats.kinds == ["venue": 1, "event": 2] && stats.worlds == ["local": 3])
        #expect(stats.withTime == 2 && stats.withLocation == 2 && stats.withHeight == 1 && stats.attributes == ["city": 1])
        #expect(stats.fileBytes > 0)
    }
}
