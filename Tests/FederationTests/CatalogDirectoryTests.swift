import Catalog
import FederationProtocol
import Foundation
import Logging
import Primitives
import Testing

@testable import Federation

/// A provisioned secure-aggregation federation of three parties (no Paillier key to deal) with
/// an aggregator directory in the fixture's folder.
struct DirectoryFixture {
    let wire: WireFixture
    let aggregator: FederationKit
    let parties: [Int: FederationKit]
    let directory: FederationDirectory

    init(manifestSuffix: String = "") throws {
        wire = try WireFixture(mode: "secagg")
        if !manifestSuffix.isEmpty {
            let handle = try FileHandle(forWritingTo: wire.manifestURL)
            handle.seekToEndOfFile()
            handle.write(Data(manifestSuffix.utf8))
            try handle.close()
        }
        try wire.provision()
        aggregator = try wire.kit(.aggregator)
        var parties: [Int: FederationKit] = [:]
        for id in [1, 2, 3] { parties[id] = try wire.kit(.party(id)) }
        self.parties = parties
        directory = try FederationDirectory(path: wire.url("directory.sqlite").path, kit: aggregator)
    }

    func publisher(_ party: Int) throws -> CatalogPublisher { try CatalogPublisher(kit: parties[party]!) }

    /// The canonical export of `entries` as a party's own catalog would give it.
    func export(_ entries: [CatalogEntry], party: Int) throws -> Data {
        let catalog = try Catalog(path: wire.url("party-\(party)-\(UUID().uuidString).sqlite").path, access: .create)
        try catalog.importEntries(entries)
        return try catalog.export()
    }

    /// Runs the aggregator's server (with this directory) on a loopback port while `body` runs.
    func serving<T: Sendable>(limits: TransportLimits = .default, _ body: @Sendable (HostPort) async throws -> T) async throws -> T {
        try await withAggregator(kit: aggregator, limits: limits, sessions: { _ in }, directory: directory, body)
    }

    func connection(_ kit: FederationKit, _ address: HostPort) throws -> PartyConnection {
        try PartyConnection(kit: kit, aggregator: address, retry: .never)
    }

    func remove() { wire.remove() }
}

/// Three small worlds: overlapping ids (so merged ordering interleaves worlds), text that ranks
/// differently, places and times.
func world(_ party: Int) -> [CatalogEntry] {
    let december = try! Instant(rfc3339: "2026-12-0\(party)T20:00:00Z")
    return [
        CatalogEntry(
            id: "hall", kind: "venue", name: "Concert hall \(party)", tags: ["music"], attributes: ["city": "c\(party)"],
            location: Location(x: Double(party), y: 0)),
        CatalogEntry(
            id: "gig-\(party)", kind: "event", name: party == 2 ? "Jazz concert and a long night of other music" : "Jazz concert",
            tags: ["music", "live"], start: december, end: december),
        CatalogEntry(id: "shop-\(party)", kind: "venue", name: "Market stall", tags: ["trade"], location: Location(x: -Double(party), y: 5)),
    ]
}

@Suite("Federation catalog directory: signed publication, merged queries", .timeLimit(.minutes(2)))
struct CatalogDirectoryTests {
    @Test("three parties publish; two others query over mutual TLS and get all three worlds, as the local semantics order them")
    func mergesThreeWorlds() async throws {
        let fixture = try DirectoryFixture()
        defer { fixture.remove() }
        // The oracle: the same three worlds in one local catalog, searched with the same code.
        let oracle = try Catalog(path: fixture.wire.url("oracle.sqlite").path, access: .create)
        for party in [1, 2, 3] { try oracle.importEntries(world(party), world: FederationDirectory.world(ofParty: party)) }
        let queries = [
            CatalogQuery(),
            CatalogQuery(text: "jazz concert"),
            CatalogQuery(conditions: [.init(key: "kind", value: "venue")]),
            CatalogQuery(from: try Instant(rfc3339: "2026-12-02T00:00:00Z")),
            CatalogQuery(near: .init(center: .init(x: 0, y: 0), radius: 2.5)),
            CatalogQuery(text: "concert", limit: 2),
        ]
        try await fixture.serving { address in
            for party in [1, 2, 3] {
                let receipt = try await fixture.publisher(party).publish(
                    try Catalog(path: try Self.localCatalog(fixture, party), access: .readOnly),
                    over: fixture.connection(fixture.parties[party]!, address))
                #expect(receipt.world == "party-\(party)")
                #expect(receipt.entries == 3)
            }
            for asker in [2, 3] {
                let connection = try fixture.connection(fixture.parties[asker]!, address)
                for query in queries {
                    let answer = try await fixture.publisher(asker).ask(query, over: connection)
                    #expect(answer == (try oracle.search(query)), "query \(query)")
                }
                let all = try await fixture.publisher(asker).ask(CatalogQuery(limit: 0), over: connection)
                #expect(Set(all.map(\.world)) == ["party-1", "party-2", "party-3"])
                #expect(all.count == 9)
                // Ranked by bm25 across worlds (lower first), each world's event present.
                let ranked = try await fixture.publisher(asker).ask(CatalogQuery(text: "jazz concert"), over: connection)
                #expect(Set(ranked.map(\.world)) == ["party-1", "party-2", "party-3"])
                let ranks = ranked.compactMap(\.rank)
                #expect(ranks.count == ranked.count && ranks == ranks.sorted())
            }
        }
    }

    static func localCatalog(_ fixture: DirectoryFixture, _ party: Int) throws -> String {
        let path = fixture.wire.url("world-\(party).sqlite").path
        try Catalog(path: path, access: .create).importEntries(world(party))
        return path
    }

    @Test("a forged catalog is refused over the wire, naming the party, and the directory keeps what it had")
    func forgedRefusedOverTLS() async throws {
        let fixture = try DirectoryFixture()
        defer { fixture.remove() }
        let good = try fixture.publisher(2).publication(entries: try fixture.export(world(2), party: 2), version: 10)
        var forged = try fixture.publisher(2).publication(entries: try fixture.export(world(2), party: 2), version: 11)
        forged.entries = try fixture.export(world(3), party: 2)  // other entries under the old signature
        forged.entriesSha256 = Data(SHA256Digest.of(forged.entries))
        let forgery = forged
        try await fixture.serving { address in
            let connection = try fixture.connection(fixture.parties[2]!, address)
            _ = try await connection.publishCatalog(good)
            let error = await #expect(throws: FederationError.self) { try await connection.publishCatalog(forgery) }
            #expect("\(error!)".contains("party 2's catalog is refused: its signature does not verify"), "\(error!)")
        }
        #expect(try fixture.directory.catalog.entries(world: "party-2") == world(2).sorted { $0.id < $1.id })
        #expect(try fixture.directory.catalog.version(of: "party-2") == 10)
    }

    @Test("unsigned, badly signed, altered, other-party and other-manifest publications are refused and named; nothing changes")
    func forgeries() throws {
        let fixture = try DirectoryFixture()
        defer { fixture.remove() }
        let entries = try fixture.export(world(2), party: 2)
        let publisher = try fixture.publisher(2)
        _ = try fixture.directory.publish(try publisher.publication(entries: entries, version: 5), from: 2)
        let before = try fixture.directory.catalog.entries(world: "party-2")

        var unsigned = try publisher.publication(entries: try fixture.export(world(1), party: 2), version: 6)
        unsigned.signer.signature = Data()
        var noCertificate = unsigned
        noCertificate.signer = .init()
        var badSignature = try publisher.publication(entries: try fixture.export(world(1), party: 2), version: 6)
        badSignature.signer.signature[5] ^= 1
        var altered = try publisher.publication(entries: entries, version: 6)
        altered.entries = try fixture.export(world(1), party: 2)
        let otherParty = try fixture.publisher(3).publication(entries: entries, version: 6)
        var stolenCertificate = otherParty
        stolenCertificate.signer.partyID = 2  // party 3's key and certificate, claiming party 2
        var otherManifest = try publisher.publication(entries: entries, version: 6)
        otherManifest.manifestHash = Data(repeating: 7, count: 32)

        let cases: [(Fedshare_V1_PublishCatalogRequest, String)] = [
            (unsigned, "unsigned"), (noCertificate, "unsigned"), (badSignature, "signature does not verify"),
            (altered, "do not match their signed SHA-256 digest"),
            (otherParty, "signed as party 3, but its connection's certificate is party 2's"),
            (stolenCertificate, "certifies party 3, not party 2"), (otherManifest, "another manifest"),
        ]
        for (request, reason) in cases {
            let error = #expect(throws: FederationError.self) { try fixture.directory.publish(request, from: 2) }
            #expect(error.map { "\($0)".hasPrefix("party 2's catalog is refused: ") && "\($0)".contains(reason) } == true, "\(String(describing: error))")
            #expect(try fixture.directory.catalog.entries(world: "party-2") == before)
            #expect(try fixture.directory.catalog.version(of: "party-2") == 5)
        }
        #expect(try fixture.directory.catalog.stats().worlds == ["party-2": 3])
    }

    @Test("a replayed or equal version is refused; a newer one replaces the world atomically, other worlds untouched")
    func replayAndRepublish() throws {
        let fixture = try DirectoryFixture()
        defer { fixture.remove() }
        let publisher = try fixture.publisher(1)
        let first = try publisher.publication(entries: try fixture.export(world(1), party: 1), version: 100)
        _ = try fixture.directory.publish(first, from: 1)
        _ = try fixture.directory.publish(try fixture.publisher(3).publication(entries: try fixture.export(world(3), party: 3), version: 1), from: 3)

        let replacement = [CatalogEntry(id: "new", kind: "item", name: "Only this")]
        let second = try publisher.publication(entries: try fixture.export(replacement, party: 1), version: 200)
        let receipt = try fixture.directory.publish(second, from: 1)
        #expect(receipt.entries == 1)
        #expect(try fixture.directory.catalog.entries(world: "party-1") == replacement)
        #expect(try fixture.directory.catalog.search(CatalogQuery(text: "concert hall")).map(\.world) == ["party-3"])

        for replay in [first, second] {
            let error = #expect(throws: FederationError.self) { try fixture.directory.publish(replay, from: 1) }
            #expect(error.map { "\($0)".contains("party 1's catalog is refused") && "\($0)".contains("not newer than the version 200") } == true)
        }
        // A properly signed publication with a bad entry is refused whole: the world is unchanged.
        var lines = try fixture.export(world(1), party: 1)
        lines.append(Data(#"{"id":"x","kind":"","name":"no kind"}"#.utf8 + [10]))
        let broken = try publisher.publication(entries: lines, version: 300)
        let error = #expect(throws: FederationError.self) { try fixture.directory.publish(broken, from: 1) }
        #expect(error.map { "\($0)".contains("party 1's catalog is refused: the catalog line 4") } == true, "\(String(describing: error))")
        #expect(try fixture.directory.catalog.entries(world: "party-1") == replacement)
        #expect(try fixture.directory.catalog.entries(world: "party-3") == world(3).sorted { $0.id < $1.id })
    }

    @Test("only parties query: the aggregator's certificate, unsigned and misattributed queries are refused")
    func onlyPartiesQuery() async throws {
        let fixture = try DirectoryFixture()
        defer { fixture.remove() }
        let signed = try fixture.publisher(1).query(CatalogQuery())
        let unsigned = {
            var request = signed
            request.signer.signature = Data()
            return request
        }()
        let stale = try fixture.publisher(1).query(CatalogQuery(), issuedAt: CatalogPublisher.now() - 3_600_000_000)
        try await fixture.serving { address in
            let asAggregator = try fixture.connection(fixture.aggregator, address)
            let byAggregator = await #expect(throws: FederationError.self) { try await asAggregator.queryCatalog(signed) }
            #expect("\(byAggregator!)".contains("only parties may query the catalog directory"))

            let party1 = try fixture.connection(fixture.parties[1]!, address)
            #expect(try await party1.queryCatalog(signed).matches.isEmpty)
            for (request, reason) in [(unsigned, "unsigned"), (stale, "more than 5 minutes")] {
                let error = await #expect(throws: FederationError.self) { try await party1.queryCatalog(request) }
                #expect("\(error!)".contains("party 1's catalog query is refused") && "\(error!)".contains(reason), "\(error!)")
            }
            let party2 = try fixture.connection(fixture.parties[2]!, address)
            let misattributed = await #expect(throws: FederationError.self) { try await party2.queryCatalog(signed) }
            #expect("\(misattributed!)".contains("signed as party 1, but its connection's certificate is party 2's"))
        }
    }

    @Test("an answer above the message limit is refused with a hint, not cut")
    func oversizedAnswer() async throws {
        let fixture = try DirectoryFixture()
        defer { fixture.remove() }
        let many = (0..<40).map { CatalogEntry(id: "item-\($0)", kind: "item", name: "Item number \($0)", tags: ["stock"]) }
        _ = try fixture.directory.publish(try fixture.publisher(1).publication(entries: try fixture.export(many, party: 1)), from: 1)
        let all = try fixture.publisher(1).query(CatalogQuery(limit: 0))
        let one = try fixture.publisher(1).query(CatalogQuery(limit: 1))
        try await fixture.serving(limits: TransportLimits(maxMessageBytes: 1500)) { address in
            let connection = try fixture.connection(fixture.parties[1]!, address)
            #expect(try await connection.queryCatalog(one).matches.count == 1)
            let error = await #expect(throws: FederationError.self) { try await connection.queryCatalog(all) }
            #expect("\(error!)".contains("ask with a smaller --limit"), "\(error!)")
        }
    }

    @Test("the manifest's [catalog] table selects what a party publishes")
    func manifestSelection() throws {
        let fixture = try DirectoryFixture(manifestSuffix: "\n[catalog]\nwhere = [\"kind=venue\"]\nnear = \"0,0\"\nradius = 2.5\n")
        defer { fixture.remove() }
        let selection = try #require(try fixture.parties[1]!.manifest.catalogSelection())
        #expect(selection.conditions == [.init(key: "kind", value: "venue")])
        #expect(selection.limit == 0)
        let catalog = try Catalog(path: try Self.localCatalog(fixture, 2), access: .readOnly)
        let request = try fixture.publisher(2).publication(entries: try catalog.export(matching: selection))
        _ = try fixture.directory.publish(request, from: 2)
        #expect(try fixture.directory.catalog.entries(world: "party-2").map(\.id) == ["hall"])
    }
}

/// SHA-256 as the directory computes it.
enum SHA256Digest {
    static func of(_ data: Data) -> [UInt8] { Primitives.SHA256.hash(Array(data)) }
}
