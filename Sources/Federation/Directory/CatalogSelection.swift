import Attention
import Catalog
import Manifest

extension FederationManifest {
    /// The query selecting the entries a party publishes (the manifest's `[catalog]` table,
    /// every match), or nil when the manifest has none: then a party publishes its whole catalog.
    /// - Throws: `CatalogError.invalidQuery` naming the manifest field at fault.
    public func catalogSelection() throws -> CatalogQuery? {
        guard let selection = catalog else { return nil }
        let file = url.lastPathComponent
        func field(_ name: String) -> String { "\(file) catalog.\(name)" }
        func instant(_ text: String?, _ name: String) throws -> Instant? {
            guard let text else { return nil }
            do { return try Instant(rfc3339: text) } catch { throw CatalogError.invalidQuery(option: field(name), reason: error.description) }
        }
        var query = CatalogQuery(text: selection.text, limit: 0)
        query.conditions = try selection.conditions.map { text in
            do { return try CatalogQuery.Condition(parsing: text) } catch {
                throw CatalogError.invalidQuery(option: field("where"), reason: "expected KEY=VALUE, got \"\(text)\"")
            }
        }
        query.from = try instant(selection.from, "from")
        query.to = try instant(selection.to, "to")
        if let near = selection.near, let radius = selection.radius {
            query.near = .init(center: try CatalogQuery.Point(parsing: near, option: field("near")), radius: radius)
        }
        query.within = try selection.within.map { try CatalogQuery.Box(parsing: $0, option: field("within")) }
        do { try query.validate() } catch { throw CatalogError.invalidQuery(option: "\(file) [catalog]", reason: error.description) }
        return query
    }
}
