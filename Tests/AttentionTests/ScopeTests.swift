import Foundation
import Manifest
import Primitives
import Testing
import _TestSupport

@testable import Attention

/// A scoped computation (records whose item is in a set) against the same computation over a
/// file holding only those records: the "clear sum over the matching records" a request asks for.
@Suite("Scoped attention")
struct ScopeTests {
    static let scopedManifest = baseManifest.replacingOccurrences(
        of: "group_column = \"group\"", with: "group_column = \"group\"\nuser_column = \"user\"\nitem_column = \"item\"\nmax_records_per_user = 2")

    struct Row {
        var user: String
        var group: String
        var item: String
        var f1: Double
        var f2: Double
    }

    static func randomRows(_ count: Int, items: [String], using random: inout SeededRandom) -> [Row] {
        (0..<count).map { _ in
            Row(
                user: "u\(Int.random(in: 0..<12, using: &random))", group: Bool.random(using: &random) ? "a" : "b",
                item: items.randomElement(using: &random)!, f1: Double.random(in: -2...2, using: &random), f2: Double.random(in: -2...2, using: &random))
        }
    }

    static func csv(_ rows: [Row]) -> String {
        "user,item,group,f1,f2\n" + rows.map { "\($0.user),\($0.item),\($0.group),\($0.f1),\($0.f2)" }.joined(separator: "\n") + "\n"
    }

    static func jsonLines(_ rows: [Row]) -> String {
        rows.map { #"{"user": "\#($0.user)", "item": "\#($0.item)", "group": "\#($0.group)", "f1": \#($0.f1), "f2": \#($0.f2)}"# }
            .joined(separator: "\n") + "\n"
    }

    @Test("CSV and JSON Lines: the scoped sums equal the sums over a file of the matching records, bound and sampling included", arguments: 0..<40)
    func matchesFilteredFile(seed: UInt64) throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: Self.scopedManifest))
        var random = SeededRandom(seed: seed)
        let items = (0..<6).map { "item-\($0)" } + ["Café ☕", "x,y"]
        var rows = Self.randomRows(Int.random(in: 0..<60, using: &random), items: items, using: &random)
        for i in rows.indices where rows[i].item == "x,y" { rows[i].item = "xy" }
        let scope = Set(items.filter { _ in Bool.random(using: &random) })
        let matching = rows.filter { scope.contains($0.item) }
        for (name, encode) in [("data.csv", Self.csv), ("data.jsonl", Self.jsonLines)] {
            let all = try folder.write(name, encode(rows))
            let only = try folder.write("matching-" + name, encode(matching))
            var options = LocalAttention.Options()
            options.scope = scope
            var first = SeededRandom(seed: seed &+ 1000)
            var second = SeededRandom(seed: seed &+ 1000)
            let scoped = try LocalAttention.sums(
                settings: manifest.attention, model: manifest.model, dataURL: all, options: options, using: &first)
            let reference = try LocalAttention.sums(
                settings: manifest.attention, model: manifest.model, dataURL: only, options: LocalAttention.Options(), using: &second)
            #expect(scoped.result.matrix == reference.result.matrix, "\(name), seed \(seed)")
            #expect(scoped.result.counts == reference.result.counts)
            #expect(scoped.result.report.recordsRead == matching.count)
            #expect(scoped.result.report.recordsOutOfScope == rows.count - matching.count)
            #expect(scoped.result.report.recordsUsed == reference.result.report.recordsUsed)
        }
    }

    @Test("without a scope the item column is read but never a feature, and every record counts")
    func unscoped() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: Self.scopedManifest))
        var random = SeededRandom(seed: 7)
        let rows = Self.randomRows(20, items: ["p", "q"], using: &random)
        let result = try LocalAttention.compute(manifest: manifest, dataURL: try folder.write("data.csv", Self.csv(rows)))
        #expect(result.report.recordsRead == 20)
        #expect(result.report.recordsOutOfScope == nil)
    }

    @Test("an empty scope counts nothing; the matrix is zero")
    func emptyScope() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: Self.scopedManifest))
        var random = SeededRandom(seed: 8)
        let rows = Self.randomRows(15, items: ["p", "q"], using: &random)
        var options = LocalAttention.Options()
        options.scope = []
        let result = try LocalAttention.compute(manifest: manifest, dataURL: try folder.write("data.csv", Self.csv(rows)), options: options)
        #expect(result.counts == [0, 0])
        #expect(result.matrix.allSatisfy { $0 == 0 })
        #expect(result.report.recordsOutOfScope == 15)
    }

    @Test("a data file without the item column, or a JSON line without the item, is refused naming it")
    func missingItem() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: Self.scopedManifest))
        let noColumn = try folder.write("data.csv", "user,group,f1,f2\nu1,a,1,2\n")
        #expect {
            try LocalAttention.compute(manifest: manifest, dataURL: noColumn)
        } throws: { "\($0)".contains("no item column 'item'") }
        let noKey = try folder.write("data.jsonl", #"{"user": "u1", "group": "a", "f1": 1, "f2": 2}"# + "\n")
        #expect {
            try LocalAttention.compute(manifest: manifest, dataURL: noKey)
        } throws: { "\($0)".contains("line 1, column 'item'") && "\($0)".contains("the item field is missing") }
    }

    @Test(".npy data: the side file's item column scopes the records")
    func numpy() throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: writeBaseFederation(in: folder, manifest: Self.scopedManifest))
        var random = SeededRandom(seed: 9)
        let rows = Self.randomRows(30, items: ["p", "q", "r"], using: &random)
        let features = rows.flatMap { [$0.f1, $0.f2] }
        let data = try folder.write("data.npy", bytes: npyBytes(features, shape: [rows.count, 2]))
        _ = try folder.write("data.groups.csv", "user,item,group\n" + rows.map { "\($0.user),\($0.item),\($0.group)" }.joined(separator: "\n") + "\n")
        let matching = rows.filter { $0.item != "q" }
        var options = LocalAttention.Options()
        options.scope = ["p", "r"]
        var first = SeededRandom(seed: 1)
        var second = SeededRandom(seed: 1)
        let scoped = try LocalAttention.sums(settings: manifest.attention, model: manifest.model, dataURL: data, options: options, using: &first)
        let reference = try LocalAttention.sums(
            settings: manifest.attention, model: manifest.model, dataURL: try folder.write("m.csv", Self.csv(matching)), options: .init(),
            using: &second)
        #expect(scoped.result.matrix == reference.result.matrix)
        #expect(scoped.result.counts == reference.result.counts)
    }
}
