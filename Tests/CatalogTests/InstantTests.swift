import Catalog
import Primitives
import Testing

@Suite struct InstantTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("1970-01-01T00:00:00.000001Z", 1),
        ("1969-12-31T23:59:59.5Z", -500_000),
        ("2025-12-01T21:30:00+01:30", 1_764_619_200_000_000),
        ("2025-12-01t20:00:00z", 1_764_619_200_000_000),
        ("2025-12-01 20:00:00.000000000Z", 1_764_619_200_000_000),
        ("2024-02-29T12:00:00-05:00", 1_709_226_000_000_000),
        ("0001-01-01T00:00:00Z", -62_135_596_800_000_000),
    ])
    func parses(_ text: String, _ microseconds: Int64) throws {
        #expect(try Instant(rfc3339: text).microseconds == microseconds)
    }

    @Test(arguments: [
        "2025-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2025-12-01T24:00:00Z", "2025-12-01T20:00:00",
        "2025-12-01", "2025-12-01T20:00:60Z", "2025-12-01T20:00:00.Z", "2025-12-01T20:00:00.0000001Z",
        "2025-12-01T20:00:00+1:00", "2025-12-01T20:00:00Z ", " 2025-12-01T20:00:00Z", "tomorrow",
    ])
    func refuses(_ text: String) {
        #expect(throws: CatalogError.self) { try Instant(rfc3339: text) }
    }

    @Test func canonicalFormRoundTrips() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            let value = Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999, using: &random)
            let instant = Instant(microseconds: value)
            #expect(try Instant(rfc3339: instant.rfc3339) == instant, "\(value) → \(instant.rfc3339)")
        }
        #expect(Instant(microseconds: 1_764_619_200_250_000).rfc3339 == "2025-12-01T20:00:00.25Z")
        #expect(Instant(microseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
    }
}
