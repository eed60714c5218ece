import Foundation
import GRDB

extension Catalog {
    /// Runs `query` (semantics on `CatalogQuery`) and returns the matching entries with their
    /// worlds, ranked by bm25 with a text filter, else ordered by id then world.
    ///
    /// Plan: one index drives the scan and every filter (the driver's own included) is checked
    /// exactly on each candidate, in SQL, against the stored doubles and integers. With text,
    /// FTS5 drives (bm25 needs it). Otherwise the filter whose index yields the fewest
    /// candidates drives, judged by counting each index's candidates up to a small cap; with no
    /// filter at all, the id index drives and the limit stops the scan early.
    /// - Throws: `CatalogError.invalidQuery` for a query that cannot mean anything (see
    ///   `CatalogQuery.validate`, and a text without any word); `.storage` if SQLite fails.
    public func search(_ query: CatalogQuery) throws -> [CatalogMatch] {
        try query.validate()
        var match: String?
        if let text = query.text {
            let words = Set(try tokenizer.tokens(text)).sorted()
            guard !words.isEmpty else {
                throw CatalogError.invalidQuery(option: "--text", reason: "no words to search for in \"\(text)\"")
            }
            // Each token as an FTS5 string ("" escapes a quote): user input is never FTS5 syntax.
            match = words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " AND ")
        }
        let plan = SearchPlan(query: query)
        return try read { db in
            let driver: SearchPlan.Driver = if let match { .text(match) } else { try plan.cheapestDriver(db) }
            var sql = "SELECT \(CatalogSchema.entryColumns)"
            if case .text = driver { sql += ", bm25(entry_text)" }
            var (from, arguments) = driver.source
            for (predicate, values) in plan.predicates {
                from += " AND " + predicate
                arguments += values
            }
            sql += " FROM " + from
            if case .text = driver { sql += " ORDER BY bm25(entry_text), e.id, e.world" } else { sql += " ORDER BY e.id, e.world" }
            if query.limit > 0 {
                sql += " LIMIT ?"
                arguments += [query.limit]
            }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let (world, entry) = try CatalogSchema.entry(from: row)
                return CatalogMatch(world: world, entry: entry, rank: row.count > 11 ? row[11] : nil)
            }
        }
    }
}

/// The SQL of one query: the exact predicates, and the candidate sources an index can drive.
struct SearchPlan {
    enum Driver {
        case all
        case text(String)
        case kind(String)
        case attribute(key: String, value: String)
        case place(minX: Double, maxX: Double, minY: Double, maxY: Double)
        case time(low: Double, high: Double)

        /// `FROM … WHERE …` yielding the candidates (the caller appends `AND` predicates).
        var source: (String, StatementArguments) {
            switch self {
            case .all:
                return ("entries e INDEXED BY entries_id WHERE 1", [])
            case .text(let match):
                return ("entry_text CROSS JOIN entries e ON e.entry = entry_text.rowid WHERE entry_text MATCH ?", [match])
            case .kind(let kind):
                return ("entries e INDEXED BY entries_kind WHERE e.kind = ?", [kind])
            case .attribute(let key, let value):
                return ("attributes d CROSS JOIN entries e ON e.entry = d.entry WHERE d.key = ? AND d.value = ?", [key, value])
            case .place(let minX, let maxX, let minY, let maxY):
                return (
                    "entry_place p CROSS JOIN entries e ON e.entry = p.entry WHERE p.min_x <= ? AND p.max_x >= ? AND p.min_y <= ? AND p.max_y >= ?",
                    [maxX, minX, maxY, minY]
                )
            case .time(let low, let high):
                return ("entry_span s CROSS JOIN entries e ON e.entry = s.entry WHERE s.lo <= ? AND s.hi >= ?", [high, low])
            }
        }

        /// Counts the driver's candidates, stopping at `cap`.
        func candidates(_ db: Database, cap: Int) throws -> Int {
            var (source, arguments) = self.source
            arguments += [cap]
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT 1 FROM \(source) LIMIT ?)", arguments: arguments) ?? 0
        }
    }

    /// The candidate count above which drivers are not told apart.
    static let estimateCap = 1000

    var predicates: [(String, StatementArguments)] = []
    var drivers: [Driver] = []

    init(query: CatalogQuery) {
        for condition in query.conditions {
            if condition.key == "kind" {
                predicates.append(("e.kind = ?", [condition.value]))
                drivers.append(.kind(condition.value))
            } else {
                predicates.append(
                    (
                        "EXISTS (SELECT 1 FROM attributes a WHERE a.key = ? AND a.value = ? AND a.entry = e.entry)",
                        [condition.key, condition.value]
                    ))
                drivers.append(.attribute(key: condition.key, value: condition.value))
            }
        }
        if query.hasTime {
            predicates.append(("(e.start_us IS NOT NULL OR e.end_us IS NOT NULL)", []))
            if let to = query.to { predicates.append(("(e.start_us IS NULL OR e.start_us <= ?)", [to.microseconds])) }
            if let from = query.from { predicates.append(("(e.end_us IS NULL OR e.end_us >= ?)", [from.microseconds])) }
            drivers.append(
                .time(
                    low: query.from.map { OutwardRounding.doubleBelow($0.microseconds) } ?? -.infinity,
                    high: query.to.map { OutwardRounding.doubleAbove($0.microseconds) } ?? .infinity))
        }
        var box: (minX: Double, maxX: Double, minY: Double, maxY: Double)?
        if let near = query.near {
            let c = near.center
            let r2 = near.radius * near.radius
            if let z = c.z {
                predicates.append(
                    (
                        "(e.x - ?) * (e.x - ?) + (e.y - ?) * (e.y - ?) + (e.z - ?) * (e.z - ?) <= ?",
                        [c.x, c.x, c.y, c.y, z, z, r2]
                    ))
            } else {
                predicates.append(("(e.x - ?) * (e.x - ?) + (e.y - ?) * (e.y - ?) <= ?", [c.x, c.x, c.y, c.y, r2]))
            }
            // Wider than the circle by more than rounding can move a distance (and by more than
            // the largest difference whose square underflows to zero), so no match is lost.
            let half = near.radius * (1 + 1e-9) + 1e-150
            box = ((c.x - half).nextDown, (c.x + half).nextUp, (c.y - half).nextDown, (c.y + half).nextUp)
        }
        if let within = query.within {
            predicates.append(("e.x >= ? AND e.x <= ? AND e.y >= ? AND e.y <= ?", [within.minX, within.maxX, within.minY, within.maxY]))
            let old = box ?? (-.infinity, .infinity, -.infinity, .infinity)
            box = (max(old.minX, within.minX), min(old.maxX, within.maxX), max(old.minY, within.minY), min(old.maxY, within.maxY))
        }
        if let box { drivers.append(.place(minX: box.minX, maxX: box.maxX, minY: box.minY, maxY: box.maxY)) }
    }

    /// The driver with the fewest candidates (counted up to `estimateCap`), or the id index.
    func cheapestDriver(_ db: Database) throws -> Driver {
        var best: (driver: Driver, count: Int)?
        for driver in drivers {
            let count = try driver.candidates(db, cap: Self.estimateCap)
            if best == nil || count < best!.count { best = (driver, count) }
            if count == 0 { break }
        }
        return best?.driver ?? .all
    }
}
