import Catalog
import Foundation

extension Fedshare_V1_CatalogQuery {
    /// The wire form of a catalog query.
    public init(_ query: CatalogQuery) {
        self.init()
        if let text = query.text { self.text = text }
        conditions = query.conditions.map { condition in
            .with {
                $0.key = condition.key
                $0.value = condition.value
            }
        }
        if let from = query.from { fromUs = from.microseconds }
        if let to = query.to { toUs = to.microseconds }
        if let near = query.near {
            self.near = .with {
                $0.x = near.center.x
                $0.y = near.center.y
                if let z = near.center.z { $0.z = z }
                $0.radius = near.radius
            }
        }
        if let box = query.within {
            within = .with {
                $0.minX = box.minX
                $0.minY = box.minY
                $0.maxX = box.maxX
                $0.maxY = box.maxY
            }
        }
        limit = UInt32(clamping: query.limit)
    }

    /// The query, validated as a local query is (`CatalogQuery.validate`).
    public func query() throws -> CatalogQuery {
        var query = CatalogQuery(text: hasText ? text : nil, limit: Int(limit))
        query.conditions = conditions.map { CatalogQuery.Condition(key: $0.key, value: $0.value) }
        query.from = hasFromUs ? Instant(microseconds: fromUs) : nil
        query.to = hasToUs ? Instant(microseconds: toUs) : nil
        if hasNear {
            query.near = .init(center: .init(x: near.x, y: near.y, z: near.hasZ ? near.z : nil), radius: near.radius)
        }
        if hasWithin { query.within = .init(within.minX, within.minY, within.maxX, within.maxY) }
        do { try query.validate() } catch {
            throw ProtocolError.malformed(message: "CatalogQuery", field: "query", reason: error.description)
        }
        return query
    }
}

extension Fedshare_V1_CatalogMatch {
    /// The wire form of one answer: the entry as its canonical JSON.
    public init(_ match: CatalogMatch) throws {
        self.init()
        world = match.world
        entry = try match.entry.canonicalJSON()
        if let rank = match.rank { self.rank = rank }
    }

    /// The answer, its entry decoded and checked.
    public func match() throws -> CatalogMatch {
        let decoded: CatalogEntry
        do { decoded = try JSONDecoder().decode(CatalogEntry.self, from: entry) } catch {
            throw ProtocolError.malformed(message: "CatalogMatch", field: "entry", reason: "not a catalog entry (\(error))")
        }
        if let (field, reason) = decoded.violation {
            throw ProtocolError.malformed(message: "CatalogMatch", field: "entry.\(field)", reason: reason)
        }
        return CatalogMatch(world: world, entry: decoded, rank: hasRank ? rank : nil)
    }
}
