/// One thing a world publishes: a venue, an event, an item, a space.
///
/// Only public metadata belongs here (what a world would put on a web page anyway).
public struct CatalogEntry: Sendable, Hashable {
    /// Unique within its world.
    public var id: String
    /// What sort of thing it is (`venue`, `event`, `item`, …); `--where kind=…` selects on it.
    public var kind: String
    public var name: String
    public var tags: [String]
    public var attributes: [String: String]
    /// When it begins; absent for timeless things, or for a thing with no known beginning.
    public var start: Instant?
    /// When it ends; absent for timeless things, or for a thing with no known end.
    public var end: Instant?
    /// Where it is, in its world's coordinates; absent when it has no place.
    public var location: Location?

    public init(
        id: String, kind: String, name: String, tags: [String] = [], attributes: [String: String] = [:],
        start: Instant? = nil, end: Instant? = nil, location: Location? = nil
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.tags = tags
        self.attributes = attributes
        self.start = start
        self.end = end
        self.location = location
    }

    /// Whether the entry has a time interval: [start, end], open on a side whose instant is absent.
    public var hasTime: Bool { start != nil || end != nil }

    /// The first rule the entry breaks, as (field, reason); nil when it is valid.
    public var violation: (field: String, reason: String)? {
        if id.isEmpty { return ("id", "empty") }
        if kind.isEmpty { return ("kind", "empty") }
        for (index, tag) in tags.enumerated() where tag.isEmpty { return ("tags[\(index)]", "empty tag") }
        // Sorted only to name the first bad key (rare): sorting every entry's keys costs an allocation.
        if attributes.keys.contains(where: { $0.isEmpty || $0 == "kind" }) {
            for key in attributes.keys.sorted() {
                if key.isEmpty { return ("attributes", "empty attribute name") }
                if key == "kind" { return ("attributes.kind", "\"kind\" is the entry's own field, not an attribute") }
            }
        }
        if let start, let end, start > end {
            return ("end", "ends (\(end.rfc3339)) before it starts (\(start.rfc3339))")
        }
        if let location {
            if !location.x.isFinite { return ("x", "not a finite number") }
            if !location.y.isFinite { return ("y", "not a finite number") }
            if let z = location.z, !z.isFinite { return ("z", "not a finite number") }
        }
        return nil
    }
}

/// A place in a world's coordinates: `x`, `y` and, in worlds with height, `z`.
public struct Location: Sendable, Hashable, Codable {
    public var x: Double
    public var y: Double
    public var z: Double?

    public init(x: Double, y: Double, z: Double? = nil) {
        self.x = x
        self.y = y
        self.z = z
    }
}

/// An entry as a query returns it: with its world and, for a text query, its bm25 rank
/// (lower is better, as SQLite reports it).
public struct CatalogMatch: Sendable, Hashable {
    public var world: String
    public var entry: CatalogEntry
    public var rank: Double?

    public init(world: String, entry: CatalogEntry, rank: Double? = nil) {
        self.world = world
        self.entry = entry
        self.rank = rank
    }
}
