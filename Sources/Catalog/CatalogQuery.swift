import Foundation

/// A query over a catalog: every filter given must hold. The same value runs against one
/// world's catalog or a directory of many worlds.
///
/// - `text`: the entry's name or tags contain every word (whole tokens, as FTS5's `unicode61`
///   tokenizer splits and folds them: case and diacritics ignored), ranked by bm25;
/// - `conditions`: `key = value` on an attribute, or on the entry's `kind` (key `kind`);
/// - `from`/`to`: the entry's interval [start, end] overlaps [from, to], bounds included. An
///   entry with only a start runs on forever, one with only an end has always run; an entry
///   with neither never matches a time filter. A missing `from` or `to` leaves that side open.
/// - `near`: Euclidean distance ≤ radius, in x and y, or in x, y and z when the centre has a z
///   (an entry without z never matches a 3-D `near`); computed as dx² + dy² (+ dz²) ≤ r² in
///   double precision;
/// - `within`: x and y inside the box, edges included;
/// - `limit`: at most this many results (0 = all).
///
/// Results come ranked by bm25 with `text` (ties by id, then world), else ordered by id, then
/// world (byte order of the UTF-8 strings).
public struct CatalogQuery: Sendable, Hashable {
    public static let defaultLimit = 100

    public var text: String?
    public var conditions: [Condition]
    public var from: Instant?
    public var to: Instant?
    public var near: Near?
    public var within: Box?
    public var limit: Int

    public init(
        text: String? = nil, conditions: [Condition] = [], from: Instant? = nil, to: Instant? = nil,
        near: Near? = nil, within: Box? = nil, limit: Int = CatalogQuery.defaultLimit
    ) {
        self.text = text
        self.conditions = conditions
        self.from = from
        self.to = to
        self.near = near
        self.within = within
        self.limit = limit
    }

    /// `key = value`; the key `kind` means the entry's kind, any other key an attribute.
    public struct Condition: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }

        /// Parses `KEY=VALUE` (split at the first `=`; the value may be empty, the key not).
        public init(parsing text: String) throws(CatalogError) {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw CatalogError.invalidQuery(option: "--where", reason: "expected KEY=VALUE, got \"\(text)\"")
            }
            self.init(key: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
        }
    }

    /// A point in a world's coordinates; without `z` it is a point of the x–y plane.
    public struct Point: Sendable, Hashable {
        public var x: Double
        public var y: Double
        public var z: Double?
        public init(x: Double, y: Double, z: Double? = nil) {
            self.x = x
            self.y = y
            self.z = z
        }

        /// Parses `X,Y` or `X,Y,Z` (finite numbers, possibly negative).
        public init(parsing text: String, option: String = "--near") throws(CatalogError) {
            let numbers = try parseNumbers(text, option: option)
            guard numbers.count == 2 || numbers.count == 3 else {
                throw CatalogError.invalidQuery(option: option, reason: "expected X,Y or X,Y,Z, got \"\(text)\"")
            }
            self.init(x: numbers[0], y: numbers[1], z: numbers.count == 3 ? numbers[2] : nil)
        }
    }

    public struct Near: Sendable, Hashable {
        public var center: Point
        public var radius: Double
        public init(center: Point, radius: Double) {
            self.center = center
            self.radius = radius
        }
    }

    /// An axis-aligned box in x and y, edges included.
    public struct Box: Sendable, Hashable {
        public var minX: Double
        public var minY: Double
        public var maxX: Double
        public var maxY: Double

        /// The box spanned by two opposite corners, in either order.
        public init(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) {
            minX = min(x1, x2)
            maxX = max(x1, x2)
            minY = min(y1, y2)
            maxY = max(y1, y2)
        }

        /// Parses `X1,Y1,X2,Y2`.
        public init(parsing text: String, option: String = "--within") throws(CatalogError) {
            let numbers = try parseNumbers(text, option: option)
            guard numbers.count == 4 else {
                throw CatalogError.invalidQuery(option: option, reason: "expected X1,Y1,X2,Y2, got \"\(text)\"")
            }
            self.init(numbers[0], numbers[1], numbers[2], numbers[3])
        }
    }

    /// Refuses a query that cannot mean anything: a negative or non-finite radius or limit,
    /// `from` after `to`, non-finite coordinates.
    public func validate() throws(CatalogError) {
        if limit < 0 { throw CatalogError.invalidQuery(option: "--limit", reason: "must be 0 (all) or more, got \(limit)") }
        if let from, let to, from > to {
            throw CatalogError.invalidQuery(option: "--from", reason: "\(from.rfc3339) is after --to \(to.rfc3339)")
        }
        if let near {
            guard near.radius.isFinite, near.radius >= 0 else {
                throw CatalogError.invalidQuery(option: "--radius", reason: "must be a finite number ≥ 0, got \(near.radius)")
            }
            let c = near.center
            guard c.x.isFinite, c.y.isFinite, c.z?.isFinite ?? true else {
                throw CatalogError.invalidQuery(option: "--near", reason: "coordinates must be finite")
            }
        }
        if let within, ![within.minX, within.minY, within.maxX, within.maxY].allSatisfy(\.isFinite) {
            throw CatalogError.invalidQuery(option: "--within", reason: "coordinates must be finite")
        }
        for condition in conditions where condition.key.isEmpty {
            throw CatalogError.invalidQuery(option: "--where", reason: "empty key")
        }
    }

    /// Whether a time filter is set.
    var hasTime: Bool { from != nil || to != nil }
}

private func parseNumbers(_ text: String, option: String) throws(CatalogError) -> [Double] {
    var numbers: [Double] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let value = Double(part.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw CatalogError.invalidQuery(option: option, reason: "\"\(part)\" is not a finite number (in \"\(text)\")")
        }
        numbers.append(value)
    }
    return numbers
}
