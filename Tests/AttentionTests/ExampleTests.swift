import Foundation
import Manifest
import Testing
import _TestSupport

@testable import Attention

@Suite("Bundled examples")
struct ExampleTests {
    @Test("three-worlds: world 1's matrix is the one its README shows, rows sum to counts")
    func threeWorlds() throws {
        let folder = examplesDirectory.appendingPathComponent("three-worlds")
        let manifest = try FederationManifest.load(from: folder.appendingPathComponent("manifest.toml"))
        let result = try LocalAttention.compute(manifest: manifest, dataURL: folder.appendingPathComponent("world-1.csv"))
        #expect(result.counts == [4, 4, 2])
        #expect(result.report.recordsDroppedByUserBound == 0)
        let readme: [Double] = [
            1.3135363092724415, 0.5477472036789885, 0.5477472036789885, 1.5909692833695817,
            0.8020646145617365, 0.7087738234198355, 0.6289122684960933, 1.860249293522335,
            0.4114699979974196, 0.34992462338973407, 0.6463441044868968, 0.5922612741259494,
        ]
        #expect(maxRelativeError(result.matrix, readme) < 1e-12)
        for g in 0..<3 { #expect(abs(result.rows[g].reduce(0, +) - Double(result.counts[g])) < 1e-12) }
        // ana's first visit by hand: s = (1.2, 0, 0, 1.725).
        let single = AttentionAccumulator(model: manifest.model)
        try single.add(features: [1.5, 0, 0, 3], groups: [0])
        let e = [1.2, 0, 0, 1.725].map { Foundation.exp($0) }
        let total = e.reduce(0, +)
        #expect(maxRelativeError(single.result().rows[0], e.map { $0 / total }) < 1e-14)
        // Allocation with the bundled capacities.
        let allocation = try Allocation(
            attention: result.labelled,
            capacities: Allocation.readCapacities(from: folder.appendingPathComponent("capacities.csv")))
        #expect(allocation.entries.count == 7)
        #expect(abs(allocation.entries.filter { $0.kind == .group }.map(\.allocation).reduce(0, +) - 30) < 1e-12)
        #expect(abs(allocation.entries.first { $0.node == "explorers" }!.share - 0.4) < 1e-12)
    }

    @Test("the marketplace manifest loads (its data is generated on demand)")
    func marketplace() throws {
        let manifest = try FederationManifest.load(from: examplesDirectory.appendingPathComponent("marketplace/manifest.toml"))
        #expect(manifest.model.anchorCount == 64)
        #expect(manifest.model.groups.count == 16)
        #expect(manifest.model.featureDimension == 32)
        #expect(manifest.model.embeddingDimension == 16)
        #expect(manifest.parties.count == 4)
        #expect(manifest.crypto.mode == .secagg)
        #expect(manifest.recordsPerPrivacyUnit == 10)
    }
}
