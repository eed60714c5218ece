/// Bounds each user's contribution to at most `limit` records, chosen uniformly at random among
/// that user's records (not the first ones), so that the sensitivity the manifest states holds.
///
/// It works in two passes over the data: the counts per user (first pass) fix, for every user
/// with more than `limit` records, a uniformly random `limit`-subset of the positions 0..<count
/// (Floyd's algorithm); the second pass admits a record when its position among the user's
/// records is in that subset. Memory grows with the number of users, never with records × M
/// (a reservoir of attention vectors per user would).
public struct UserRecordSampler: Sendable {
    private struct Plan: Sendable {
        var seen = 0
        var chosen: [Int]
        var nextChosen = 0
    }

    public let limit: Int
    private var plans: [String: Plan] = [:]

    /// Users with more than `limit` records.
    public var usersOverLimit: Int { plans.count }

    /// - Parameters:
    ///   - counts: records per user.
    ///   - limit: the most records counted per user (≥ 1).
    ///   - rng: the CSPRNG in production (`SecureRandom`).
    public init(counts: [String: Int], limit: Int, using rng: inout some RandomNumberGenerator) {
        precondition(limit >= 1, "the limit must be positive")
        self.limit = limit
        // Sorted, so that a seeded generator gives reproducible choices in tests.
        for user in counts.keys.sorted() {
            guard let count = counts[user], count > limit else { continue }
            var chosen = Set<Int>()
            for j in (count - limit)..<count {
                let t = Int.random(in: 0...j, using: &rng)
                if !chosen.insert(t).inserted { chosen.insert(j) }
            }
            plans[user] = Plan(chosen: chosen.sorted())
        }
    }

    /// Whether the next record of `user` (in the same order as the counting pass) counts.
    public mutating func admit(_ user: String) -> Bool {
        guard var plan = plans[user] else { return true }
        let position = plan.seen
        plan.seen += 1
        var admitted = false
        if plan.nextChosen < plan.chosen.count, plan.chosen[plan.nextChosen] == position {
            admitted = true
            plan.nextChosen += 1
        }
        plans[user] = plan
        return admitted
    }
}
