import Attention
import Foundation
import Manifest
import Testing
import _TestSupport

@Suite("Manifest overrides and TOML text")
struct OverridesTests {
    /// Writes `manifest` as TOML beside a copy of its anchors (and encoder) and loads it back.
    func roundTrip(_ manifest: FederationManifest, in folder: TemporaryFolder) throws -> FederationManifest {
        try FileManager.default.copyItem(at: manifest.attention.anchorsURL, to: folder.url.appendingPathComponent("anchors.csv"))
        if let encoder = manifest.attention.encoderURL {
            try FileManager.default.copyItem(at: encoder, to: folder.url.appendingPathComponent("encoder." + encoder.pathExtension))
        }
        let text = manifest.tomlText(
            anchorsPath: "anchors.csv",
            encoderPath: manifest.attention.encoderURL.map { "encoder." + $0.pathExtension })
        return try FederationManifest.parse(text, url: folder.url.appendingPathComponent("manifest.toml"))
    }

    @Test("the TOML text reads back to the same manifest", arguments: ["three-worlds", "marketplace"])
    func textReadsBack(example: String) throws {
        let original = try FederationManifest.load(from: examplesDirectory.appendingPathComponent("\(example)/manifest.toml"))
        let folder = try TemporaryFolder()
        let again = try roundTrip(original, in: folder)
        #expect(again.name == original.name && again.parties == original.parties && again.threshold == original.threshold)
        #expect(again.aggregator == original.aggregator)
        #expect(again.model == original.model)
        #expect(again.privacy == original.privacy && again.crypto == original.crypto && again.catalog == original.catalog)
        #expect(again.attention.groups == original.attention.groups && again.attention.features == original.attention.features)
        #expect(again.attention.userColumn == original.attention.userColumn)
        #expect(again.attention.maxRecordsPerUser == original.attention.maxRecordsPerUser)
        #expect(again.attention.ignoreColumns == original.attention.ignoreColumns)
    }

    @Test("overrides change parties, threshold, aggregator, mode and key size; strings are escaped")
    func overrides() throws {
        let folder = try TemporaryFolder()
        var base = try FederationManifest.load(from: writeBaseFederation(in: folder))
        base.attention.groups = ["a \"quoted\" \\ group", "b"]
        let changed = base.applying(.init(parties: [1, 2, 3, 4, 5], threshold: 3, aggregator: "127.0.0.1:7443", mode: .paillier, keyBits: 2048))
        let scratch = try TemporaryFolder()
        let again = try roundTrip(changed, in: scratch)
        #expect(again.parties == [1, 2, 3, 4, 5])
        #expect(again.threshold == 3)
        #expect(again.aggregator == "127.0.0.1:7443")
        #expect(again.crypto.mode == .paillier && again.crypto.keyBits == 2048)
        #expect(again.attention.groups == ["a \"quoted\" \\ group", "b"])
        #expect(again.privacy == base.privacy)
    }
}
