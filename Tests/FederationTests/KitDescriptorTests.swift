import FederationProtocol
import Foundation
import Testing

@testable import Federation

/// `kit.json` decoding (``KitDescriptor/decode(_:)``), field by field; the fuzz target `kit`
/// drives the same decoder with random bytes.
@Suite("kit.json")
struct KitDescriptorTests {
    static let valid = KitDescriptor(
        federation: "three-worlds", role: "party", party: 2, shareIndex: 2, manifest: "manifest.toml",
        manifestSHA256: String(repeating: "ab", count: 32), caCertificate: "ca.pem", certificate: "cert.pem",
        privateKey: "key.pem", thresholdPublicKey: "threshold-public-key.json", keyShare: "key-share.json",
        fingerprints: .init(ca: "aa", certificate: "bb", thresholdKey: "cc"), created: "2026-11-29T04:00:00Z")

    static func json(_ descriptor: KitDescriptor) throws -> Data { try JSONEncoder().encode(descriptor) }

    @Test("a provisioned descriptor decodes to itself, for a party and for the aggregator")
    func roundTrip() throws {
        #expect(try KitDescriptor.decode(Self.json(Self.valid)) == Self.valid)
        #expect(try KitDescriptor.decode(Self.json(Self.valid)).holder() == .party(2))
        var aggregator = Self.valid
        aggregator.role = "aggregator"
        aggregator.party = nil
        aggregator.shareIndex = nil
        aggregator.keyShare = nil
        #expect(try KitDescriptor.decode(Self.json(aggregator)).holder() == .aggregator)
    }

    /// Each case sets one field of a valid kit.json to a JSON literal (`null` removes it).
    @Test(
        "each broken field is refused with its name",
        arguments: [
            ("format", #""fedshare.kit2""#, "field \"format\""),
            ("version", "2", "field \"version\" is 2"),
            ("role", #""admin""#, "field \"role\" is \"admin\""),
            ("party", "null", "field \"party\" is missing"),
            ("party", "0", "field \"party\" is missing"),
            ("manifest", #""../party-1/manifest.toml""#, "field \"manifest\" must name a file inside the kit"),
            ("certificate", #""/etc/ssl/cert.pem""#, "field \"certificate\" must name"),
            ("privateKey", #""""#, "field \"privateKey\" must name"),
            ("caCertificate", #""a/../../ca.pem""#, "field \"caCertificate\" must name"),
            ("thresholdPublicKey", #""..""#, "field \"thresholdPublicKey\" must name"),
            ("keyShare", #""../party-1/key-share.json""#, "field \"keyShare\" must name"),
            // A combining mark after "/" fuses with it into one Character (found by fuzzing).
            ("keyShare", #""../\u065ekey-share.json""#, "field \"keyShare\" must name"),
            ("certificate", #""\u065e/../../cert.pem""#, "field \"certificate\" must name"),
            ("privateKey", #""/\u065eetc/key.pem""#, "field \"privateKey\" must name"),
            ("keyShare", #"".""#, "field \"keyShare\" must name"),
            ("manifest", #""./manifest.toml""#, "field \"manifest\" must name"),
            ("certificate", #""certs//cert.pem""#, "field \"certificate\" must name"),
            ("caCertificate", #""ca.pem/""#, "field \"caCertificate\" must name"),
            ("privateKey", "7", "field \"privateKey\" has the wrong type"),
            ("fingerprints", "null", "missing field \"fingerprints\""),
        ])
    func refusesField(_ field: String, _ literal: String, _ expected: String) throws {
        var object = try #require(JSONSerialization.jsonObject(with: Self.json(Self.valid)) as? [String: Any])
        object[field] = literal == "null" ? nil : try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed)
        let data = try JSONSerialization.data(withJSONObject: object)
        #expect(performing: { try KitDescriptor.decode(data) }, throws: { "\($0)".contains(expected) })
    }

    @Test("a path is below a folder by its bytes, not by String's canonical equivalence")
    func containmentOnBytes() {
        #expect(PathContainment.relative("/fed/anchors.csv", under: "/fed") == "anchors.csv")
        #expect(PathContainment.relative("/fed/anchors.csv", under: "/fed/") == "anchors.csv")
        #expect(PathContainment.relative("/fed", under: "/fed") == nil)
        #expect(PathContainment.relative("/federation/a.csv", under: "/fed") == nil)
        // A combining mark after the slash: below the folder (String's hasPrefix said no).
        #expect(PathContainment.relative("/fed/\u{65E}.csv", under: "/fed") == "\u{65E}.csv")
        // A decomposed é is another directory than a precomposed one (String's hasPrefix said yes).
        #expect(PathContainment.relative("/fe\u{301}/a.csv", under: "/f\u{E9}") == nil)
    }

    @Test("unreadable JSON and missing or mistyped fields are named")
    func refusesJSON() {
        for (text, expected) in [
            ("", "not valid JSON"), ("{", "not valid JSON"), ("[]", "wrong type"),
            ("{\"format\": \"fedshare.kit\"}", "missing field"),
            (#"{"format": 1}"#, "field \"format\" has the wrong type"),
        ] {
            #expect(performing: { try KitDescriptor.decode(Data(text.utf8)) }, throws: { "\($0)".contains(expected) })
        }
    }

    @Test("a provisioned kit whose kit.json points outside it is refused at loading, naming kit.json and the field")
    func loadRefusesEscape() throws {
        let fixture = try WireFixture()
        defer { fixture.remove() }
        try fixture.provision()
        let url = fixture.url("kits/party-2/kit.json")
        var descriptor = try KitDescriptor.decode(Data(contentsOf: url))
        descriptor.keyShare = "../party-1/key-share.json"
        try Self.json(descriptor).write(to: url)
        #expect(
            performing: { try fixture.kit(.party(2)) },
            throws: { "\($0)".contains("party-2/kit.json") && "\($0)".contains("field \"keyShare\" must name a file inside the kit") })
    }
}
