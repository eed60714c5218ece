import Attention
import Federation
import Foundation
import Manifest
import Testing

@Suite("Local federation")
struct LocalFederationTests {
    /// Three-worlds in secure-aggregation mode with four parties (the data reused in turn), one
    /// of them gone at share: the overrides reach the kits, the round releases without it and the
    /// clear sum lies beside the outputs.
    @Test("overrides reach the kits; a dropped party is left out; the outputs are written")
    func threeWorldsWithOverrides() async throws {
        let folder = try TemporaryFolder()
        let manifest = try FederationManifest.load(from: threeWorlds.appendingPathComponent("manifest.toml"))
        var data: [Int: URL] = [:]
        for party in 1...4 { data[party] = threeWorlds.appendingPathComponent("world-\((party - 1) % 3 + 1).csv") }
        var configuration = LocalFederation.Configuration(
            manifest: manifest, data: data, outputFolder: folder.url.appendingPathComponent("out"),
            workFolder: folder.url.appendingPathComponent("work"))
        configuration.overrides = .init(parties: [1, 2, 3, 4], mode: .secagg)
        configuration.drops = [2: .share]
        configuration.catalogs = threeWorlds.appendingPathComponent("catalog")
        let report = try await LocalFederation(configuration).run()

        #expect(report.manifest.parties == [1, 2, 3, 4])
        #expect(report.manifest.threshold == 3)
        #expect(report.manifest.aggregator == "127.0.0.1:7443")
        #expect(report.manifest.crypto.mode == .secagg)
        #expect(report.manifest.model == manifest.model && report.manifest.privacy == manifest.privacy)
        #expect(report.result.contributors == [1, 3, 4])
        #expect(report.partyNotes.keys.sorted() == [2])
        #expect(report.catalogWorlds?.count == 3)
        for file in RoundOutputs.fileNames + [LocalFederation.clearFile] {
            #expect(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("out/\(file)").path), "\(file)")
        }
    }
}
