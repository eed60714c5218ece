import Foundation

// The JSON form of an entry: exactly the fields `id`, `kind`, `name`, `tags`, `attributes`,
// `start`, `end`, `location` (`{"x", "y", "z"}`); an unknown field is refused, not ignored, so a
// misspelt `strat` cannot silently make a timeless entry. `null` and a missing field mean the same.

extension CatalogEntry: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, kind, name, tags, attributes, start, end, location
    }

    public init(from decoder: any Decoder) throws {
        try refuseUnknownFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        kind = try container.decode(String.self, forKey: .kind)
        name = try container.decode(String.self, forKey: .name)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        attributes = try container.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        start = try container.decodeIfPresent(Instant.self, forKey: .start)
        end = try container.decodeIfPresent(Instant.self, forKey: .end)
        location = try container.decodeIfPresent(Location.self, forKey: .location)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try encodeFields(into: &container)
    }

    fileprivate func encodeFields<Key: CodingKey>(into container: inout KeyedEncodingContainer<Key>) throws {
        func key(_ field: CodingKeys) -> Key { Key(stringValue: field.rawValue)! }
        try container.encode(id, forKey: key(.id))
        try container.encode(kind, forKey: key(.kind))
        try container.encode(name, forKey: key(.name))
        try container.encode(tags, forKey: key(.tags))
        try container.encode(attributes, forKey: key(.attributes))
        try container.encodeIfPresent(start, forKey: key(.start))
        try container.encodeIfPresent(end, forKey: key(.end))
        try container.encodeIfPresent(location, forKey: key(.location))
    }

    /// The canonical JSON of the entry: sorted keys, absent fields left out, instants in UTC.
    /// The same entry always gives the same bytes (what a signature covers).
    public func canonicalJSON() throws -> Data {
        try CanonicalJSON.encoder.encode(self)
    }
}

extension Location {
    enum CodingKeys: String, CodingKey, CaseIterable { case x, y, z }

    public init(from decoder: any Decoder) throws {
        try refuseUnknownFields(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        x = try container.decode(Double.self, forKey: .x)
        y = try container.decode(Double.self, forKey: .y)
        z = try container.decodeIfPresent(Double.self, forKey: .z)
    }
}

extension CatalogMatch: Encodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The entry's fields plus `world` (and `rank` after a text query), in one flat object.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(world, forKey: Key(stringValue: "world")!)
        try container.encodeIfPresent(rank, forKey: Key(stringValue: "rank")!)
        try entry.encodeFields(into: &container)
    }
}

/// The JSON encoder behind every canonical form in this module.
enum CanonicalJSON {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

private func refuseUnknownFields(_ decoder: any Decoder, known: [String]) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !known.contains(key.stringValue) {
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: decoder.codingPath + [key],
                debugDescription: "unknown field (expected \(known.joined(separator: ", ")))"))
    }
}
