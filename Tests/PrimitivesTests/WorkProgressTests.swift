import Primitives
import Synchronization
import Testing

@Suite("Progress of a long batch step")
struct WorkProgressTests {
    /// Advances `total` items from all cores and returns every report.
    static func reports(total: Int, width: Int) throws -> [(Int, Int)] {
        let seen = Mutex([(Int, Int)]())
        let progress = WorkProgress(total: total) { done, total in seen.withLock { $0.append((done, total)) } }
        _ = try Parallel.map(Array(0..<total), width: width) { _ in progress.advance() }
        return seen.withLock { $0 }
    }

    @Test(
        "at most one report per percent, each within the batch, and the last item reported exactly once",
        arguments: [1, 7, 100, 299, 10_000])
    func reportsPerPercent(total: Int) throws {
        for width in [1, 4] {
            let reports = try Self.reports(total: total, width: width)
            #expect(reports.allSatisfy { $0.1 == total && (1...total).contains($0.0) })
            #expect(reports.count <= 101, "\(reports.count) reports for \(total) items")
            #expect(reports.filter { $0.0 == total }.count == 1)
            // Enough reports to move a bar: one per percent when there are at least 100 items.
            #expect(reports.count >= min(total, 100))
            if width == 1 { #expect(reports.map(\.0) == reports.map(\.0).sorted()) }
        }
    }

    @Test("advancing past the total is clamped and reports nothing more")
    func clamped() {
        let seen = Mutex([Int]())
        let progress = WorkProgress(total: 3) { done, _ in seen.withLock { $0.append(done) } }
        progress.advance(by: 2)
        progress.advance(by: 5)
        progress.advance()
        #expect(seen.withLock { $0 } == [2, 3])
    }
}
