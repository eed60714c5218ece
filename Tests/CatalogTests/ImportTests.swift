import Catalog
import Foundation
import GRDB
import Testing

@Suite struct ImportTests {
    static let goodLine = #"{"id":"v1","kind":"venue","name":"Blue Note","tags":["jazz"],"attributes":{"city":"Paris"},"location":{"x":1,"y":2}}"#

    @Test func readsJSONLines() throws {
        let path = try temporaryFile(
            "entries.jsonl",
            """
            \(Self.goodLine)

            {"id":"e1","kind":"event","name":"Late set","start":"2025-12-01T21:00:00+01:00","end":null,"location":{"x":-1.5,"y":0,"z":3}}
            """)
        let entries = try EntryFile.read(path: path)
        #expect(entries.count == 2)
        #expect(
            entries[0]
                == CatalogEntry(
                    id: "v1", kind: "venue", name: "Blue Note", tags: ["jazz"], attributes: ["city": "Paris"],
                    location: Location(x: 1, y: 2)))
        #expect(entries[1].start == instant("2025-12-01T20:00:00Z") && entries[1].end == nil)
        #expect(entries[1].location == Location(x: -1.5, y: 0, z: 3))
    }

    @Test(
        "bad JSON lines name file, line and field",
        arguments: [
            (#"{"id":"a","kind":"k","name":"n","colour":"red"}"#, "colour", "unknown field"),
            (#"{"id":"a","kind":"k"}"#, "name", "missing"),
            (#"{"id":"a","kind":"k","name":"n","tags":"rock"}"#, "tags", "expected"),
            (#"{"id":"a","kind":"k","name":"n","attributes":{"c":1}}"#, "attributes.c", "expected"),
            (#"{"id":"a","kind":"k","name":"n","start":"yesterday"}"#, "start", "not an RFC 3339 instant"),
            (#"{"id":"a","kind":"k","name":"n","start":"2025-01-02T00:00:00Z","end":"2025-01-01T00:00:00Z"}"#, "end", "before it starts"),
            (#"{"id":"a","kind":"k","name":"n","location":{"x":1}}"#, "location.y", "missing"),
            (#"{"id":"a","kind":"k","name":"n","location":{"x":1,"y":2,"w":3}}"#, "location.w", "unknown field"),
            (#"{"id":"","kind":"k","name":"n"}"#, "id", "empty"),
            (#"{"id":"a","kind":"k","name":"n","tags":["x",""]}"#, "tags[1]", "empty tag"),
            (#"{"id":"a","kind":"k","name":"n","attributes":{"kind":"x"}}"#, "attributes.kind", "entry's own field"),
            (#"{"id":"v1","kind":"k","name":"n"}"#, "id", "already on line 1"),
        ])
    func refusesBadJSONLine(_ line: String, _ field: String, _ reason: String) throws {
        let path = try temporaryFile("bad.jsonl", Self.goodLine + "\n" + line + "\n")
        let error = try #require(throws: CatalogError.self) { try EntryFile.read(path: path, displayName: "bad.jsonl") }
        guard case .invalidEntry(let file, let lineNumber, let named, let message) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(file == "bad.jsonl" && lineNumber == 2 && named == field, "\(error)")
        #expect(message.contains(reason), "\(error)")
        #expect(error.description.hasPrefix("bad.jsonl line 2, field \"\(field)\": "))
    }

    @Test func refusesNonObjectLine() throws {
        let path = try temporaryFile("bad.jsonl", Self.goodLine + "\n[1,2]\n")
        #expect(throws: CatalogError.invalidEntry(file: path, line: 2, field: nil, reason: "not a JSON object")) { try EntryFile.read(path: path) }
    }

    @Test func readsCSVWithQuotingAndAttributes() throws {
        let path = try temporaryFile(
            "entries.csv",
            """
            id,kind,name,tags,start,end,x,y,z,city,genre\r
            v1,venue,"Blue Note, Paris",jazz; blues ;,,,1.5,-2,,Paris,\r
            e1,event,"A ""late""
            set",,2025-12-01T20:00:00Z,2025-12-01T23:00:00Z,,,,,jazz
            e2,event,plain,,,2025-12-01T20:00:00Z,-10.5,3,7,,

            """)
        let entries = try EntryFile.read(path: path)
        #expect(entries.count == 3)
        #expect(
            entries[0]
                == CatalogEntry(
                    id: "v1", kind: "venue", name: "Blue Note, Paris", tags: ["jazz", "blues"],
                    attributes: ["city": "Paris"], location: Location(x: 1.5, y: -2)))
        #expect(entries[1].name == "A \"late\"\nset" && entries[1].attributes == ["genre": "jazz"] && entries[1].location == nil)
        #expect(entries[1].start == instant("2025-12-01T20:00:00Z") && entries[1].end == instant("2025-12-01T23:00:00Z"))
        #expect(entries[2].start == nil && entries[2].end == instant("2025-12-01T20:00:00Z"))
        #expect(entries[2].location == Location(x: -10.5, y: 3, z: 7))
    }

    @Test(
        "bad CSV lines name file, line and field",
        arguments: [
            ("v2,venue,n,,,,1,,", 3, "y", "missing"),
            ("v2,venue,n,,,,,,4", 3, "z", "z without x and y"),
            ("v2,venue,n,,,,east,1,", 3, "x", "not a finite number"),
            ("v2,venue,n,,,,nan,1,", 3, "x", "not a finite number"),
            ("v2,venue,n,,soon,,,,", 3, "start", "not an RFC 3339 instant"),
            ("v2,venue,n,,,", 3, nil, "expected 9 fields, found 6"),
            ("v2,venue,\"n\"x,,,,,,", 3, nil, "after a closing quote"),
            ("v2,venue,n\"x,,,,,,", 3, nil, "quote inside an unquoted field"),
            ("v2,venue,\"open,,,,,,", 3, nil, "never closed"),
            ("v1,venue,again,,,,,,", 3, "id", "already on line 2"),
            (",venue,n,,,,,,", 3, "id", "empty"),
        ] as [(String, Int, String?, String)])
    func refusesBadCSVLine(_ line: String, _ number: Int, _ field: String?, _ reason: String) throws {
        let path = try temporaryFile("bad.csv", "id,kind,name,tags,start,end,x,y,z\nv1,venue,ok,,,,,,\n" + line + "\n")
        let error = try #require(throws: CatalogError.self) { try EntryFile.read(path: path, displayName: "bad.csv") }
        guard case .invalidEntry(let file, let lineNumber, let named, let message) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(file == "bad.csv" && lineNumber == number && named == field, "\(error)")
        #expect(message.contains(reason), "\(error)")
    }

    @Test func refusesBadCSVHeaderAndUnknownFormat() throws {
        let noName = try temporaryFile("a.csv", "id,kind,tags\nv,venue,x\n")
        #expect(throws: CatalogError.invalidEntry(file: noName, line: 1, field: "name", reason: "missing column")) { try EntryFile.read(path: noName) }
        let twice = try temporaryFile("b.csv", "id,kind,name,city,city\n")
        #expect(throws: CatalogError.invalidEntry(file: twice, line: 1, field: "city", reason: "column named twice")) { try EntryFile.read(path: twice) }
        let text = try temporaryFile("c.txt", "")
        #expect(throws: CatalogError.self) { try EntryFile.read(path: text) }
        #expect(throws: CatalogError.unreadable(file: "/nonexistent/x.csv", reason: "no such file")) { try EntryFile.read(path: "/nonexistent/x.csv") }
    }

    @Test("a CSV line after a multi-line quoted field is numbered by the file's lines")
    func csvLineNumbersCountLineBreaksInFields() throws {
        let path = try temporaryFile("m.csv", "id,kind,name\na,k,\"one\ntwo\nthree\"\nb,k,\"x\"y\n")
        #expect(
            throws: CatalogError.invalidEntry(file: path, line: 5, field: nil, reason: "text after a closing quote (a quote inside a field is written \"\")")
        ) {
            try EntryFile.read(path: path)
        }
    }

    @Test("an import with one bad entry imports nothing")
    func importIsAllOrNothing() throws {
        let catalog = try emptyCatalog()
        try catalog.importEntries([CatalogEntry(id: "keep", kind: "venue", name: "kept")])
        var bad = CatalogEntry(id: "b", kind: "event", name: "bad")
        bad.start = instant("2025-01-02T00:00:00Z")
        bad.end = instant("2025-01-01T00:00:00Z")
        let batch = [CatalogEntry(id: "a", kind: "venue", name: "fine"), bad]
        #expect(
            throws: CatalogError.invalidEntry(
                file: "entries", line: 2, field: "end",
                reason: "ends (2025-01-01T00:00:00Z) before it starts (2025-01-02T00:00:00Z)")
        ) {
            try catalog.importEntries(batch)
        }
        #expect(throws: CatalogError.self) { try catalog.importEntries([batch[0], batch[0]]) }
        #expect(try catalog.entries().map(\.id) == ["keep"])
    }

    @Test("a failure inside the transaction rolls back every table")
    func storageFailureRollsBack() throws {
        let path = try temporaryPath("c.sqlite")
        let catalog = try Catalog(path: path, access: .create)
        try catalog.importEntries([CatalogEntry(id: "keep", kind: "venue", name: "kept")])
        // A trigger makes the 300th insert fail, mid-import, after the FTS5 and R*Tree rows of
        // the first 299 were written.
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.id = 'n300' BEGIN SELECT RAISE(ABORT, 'boom'); END")
        }
        let entries = (0..<500).map {
            CatalogEntry(
                id: "n\($0)", kind: "venue", name: "new \($0)", attributes: ["a": "b"],
                start: instant("2025-01-01T00:00:00Z"), location: Location(x: 1, y: 1))
        }
        #expect(throws: CatalogError.self) { try catalog.importEntries(entries) }
        let stats = try catalog.stats()
        #expect(stats.entries == 1 && stats.attributes.isEmpty && stats.withTime == 0 && stats.withLocation == 0)
        #expect(try catalog.search(CatalogQuery(text: "new")).isEmpty)
        #expect(try catalog.search(CatalogQuery(near: .init(center: .init(x: 1, y: 1), radius: 1))).isEmpty)
        #expect(try catalog.search(CatalogQuery(from: instant("2024-01-01T00:00:00Z"))).isEmpty)
    }

    @Test func readingNeverCreatesACatalog() throws {
        let path = try temporaryPath("missing.sqlite")
        #expect(throws: CatalogError.noCatalog(path: path)) { try Catalog(path: path, access: .readOnly) }
        #expect(!FileManager.default.fileExists(atPath: path))
        let notCatalog = try temporaryFile("x.sqlite", "hello, not SQLite at all, long enough to be a header maybe")
        #expect(throws: CatalogError.self) { try Catalog(path: notCatalog, access: .readOnly) }
    }
}
