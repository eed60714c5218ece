import Foundation
import Primitives

/// Which parties exchange pairwise masks and hold each other's shares.
public enum SecAggGraph: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Every party is every other party's neighbour (Bonawitz et al.): quadratic total cost,
    /// the default for federations of institutions (tens of parties).
    case complete
    /// SecAgg+ (Bell et al.): a k-regular Harary graph over a pseudorandom permutation of the
    /// parties; each party masks with and shares to its `degree` neighbours (degree/2 on each
    /// side of it in the permuted ring), and its secrets are shared among those neighbours and
    /// itself. `degree` is even.
    case harary(degree: Int)

    public var description: String {
        switch self {
        case .complete: return "complete"
        case .harary(let degree): return "harary(\(degree))"
        }
    }
}

/// The adversary a configuration is sized against (Google `fcp/secagg` `AdversaryClass`).
public enum SecAggAdversary: String, Sendable, Hashable, Codable {
    /// The server follows the protocol but is curious; corrupt clients too.
    case honestButCurious
    /// The server may lie about who dropped (different stories to different clients); the
    /// threshold is raised so that asking some neighbours for self-mask shares and others for
    /// mask-key shares never yields t of both.
    case semiMalicious
}

/// The public parameters of one secure-aggregation round, agreed by every party and the server.
public struct SecAggConfiguration: Sendable, Hashable, Codable {
    /// The number of parties n; ids are 0..<n (Shamir evaluation points id + 1).
    public let parties: Int
    /// t: the number of shares that reconstruct a secret, and the minimum number of live
    /// parties (per neighbourhood, in sparse mode) for the round to continue.
    public let threshold: Int
    /// The number of 64-bit words in each input vector.
    public let vectorLength: Int
    public let graph: SecAggGraph
    /// A public nonce for this round, chosen by whoever opens it (bound into the session id).
    public let sessionNonce: [UInt8]
    /// The round number (bound into the session id, the mask keys and the share encryption).
    public let round: UInt64
    /// The vector's name (bound into the mask keys, as FCP binds masks to vector names).
    public let vectorName: String
    /// Whether the round runs Bonawitz et al.'s consistency check (survivors sign the survivor
    /// set before anyone reveals a share) against an aggregator that equivocates on who
    /// dropped. Needs every client to have a `SecAggAuthenticator`, and 2t > the neighbourhood size.
    public let consistencyCheck: Bool

    /// Complete graphs are recommended up to this many parties.
    public static let completeGraphLimit = 32
    /// The longest vector the mask generator accepts (AES-CTR under one key: at most 2^36 bytes).
    public static let maximumVectorLength = 1 << 32

    /// - Parameter consistencyCheck: run the signed consistency round (see the property); the
    ///   threshold must then exceed half the neighbourhood (complete graph: 2t > parties;
    ///   Harary: 2t > degree + 1).
    /// - Throws: `SecAggError.invalidConfiguration` naming the offending field.
    public init(
        parties: Int, threshold: Int, vectorLength: Int, graph: SecAggGraph = .complete,
        sessionNonce: [UInt8] = [], round: UInt64 = 0, vectorName: String = "attention",
        consistencyCheck: Bool = false
    ) throws {
        guard parties >= 2, parties <= 1_000_000 else {
            throw SecAggError.invalidConfiguration("parties = \(parties) is outside 2...1000000")
        }
        guard (1...SecAggConfiguration.maximumVectorLength).contains(vectorLength) else {
            throw SecAggError.invalidConfiguration("vectorLength = \(vectorLength) is outside 1...\(SecAggConfiguration.maximumVectorLength)")
        }
        if case .harary(let degree) = graph {
            guard degree >= 2, degree % 2 == 0, degree < parties - 1 else {
                throw SecAggError.invalidConfiguration(
                    "Harary degree \(degree) must be even, at least 2 and below parties − 1 = \(parties - 1) (use the complete graph otherwise)")
            }
        }
        let neighbourhood: Int
        switch graph {
        case .complete: neighbourhood = parties
        case .harary(let degree): neighbourhood = degree + 1
        }
        guard threshold >= 2, threshold <= neighbourhood else {
            throw SecAggError.invalidConfiguration("threshold = \(threshold) must be in 2...\(neighbourhood) (the neighbourhood size, self included)")
        }
        if consistencyCheck, 2 * threshold <= neighbourhood {
            let safe = SecAggConfiguration.smallestSafeThreshold(neighbourhood: neighbourhood)
            let scope = graph == .complete ? "parties = \(parties)" : "the neighbourhood size \(neighbourhood) (degree + 1)"
            throw SecAggError.invalidConfiguration(
                "threshold = \(threshold) is unsafe with the consistency check: 2t ≤ \(scope), so an aggregator that shows different survivor sets to two groups of parties could collect t of each kind of share and unmask one party's input; the smallest safe threshold is \(safe)"
            )
        }
        guard sessionNonce.count <= 64 else {
            throw SecAggError.invalidConfiguration("sessionNonce is \(sessionNonce.count) bytes; at most 64")
        }
        guard vectorName.utf8.count <= 256 else {
            throw SecAggError.invalidConfiguration("vectorName is longer than 256 bytes")
        }
        self.parties = parties
        self.threshold = threshold
        self.vectorLength = vectorLength
        self.graph = graph
        self.sessionNonce = sessionNonce
        self.round = round
        self.vectorName = vectorName
        self.consistencyCheck = consistencyCheck
    }

    /// The smallest t with 2t > `neighbourhood`: no two disjoint groups of t share holders exist,
    /// so an equivocating aggregator cannot gather t self-mask shares and t mask-key shares of
    /// one party.
    public static func smallestSafeThreshold(neighbourhood: Int) -> Int { neighbourhood / 2 + 1 }

    private enum CodingKeys: String, CodingKey {
        case parties, threshold, vectorLength, graph, sessionNonce, round, vectorName, consistencyCheck
    }

    /// Decodes and re-validates (a decoded configuration passes the same checks as a built one).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            parties: try container.decode(Int.self, forKey: .parties),
            threshold: try container.decode(Int.self, forKey: .threshold),
            vectorLength: try container.decode(Int.self, forKey: .vectorLength),
            graph: try container.decode(SecAggGraph.self, forKey: .graph),
            sessionNonce: try container.decode([UInt8].self, forKey: .sessionNonce),
            round: try container.decode(UInt64.self, forKey: .round),
            vectorName: try container.decode(String.self, forKey: .vectorName),
            consistencyCheck: try container.decodeIfPresent(Bool.self, forKey: .consistencyCheck) ?? false)
    }

    /// The size of each party's neighbourhood, itself included.
    public var neighbourhoodSize: Int {
        switch graph {
        case .complete: return parties
        case .harary(let degree): return degree + 1
        }
    }

    /// A canonical encoding of the public parameters (bound into the session id).
    var canonicalBytes: [UInt8] {
        var bytes = Array("fedshare/secagg/v1/config".utf8)
        func append(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        append(UInt64(parties))
        append(UInt64(threshold))
        append(UInt64(vectorLength))
        switch graph {
        case .complete: append(0)
        case .harary(let degree): append(UInt64(degree))
        }
        append(round)
        append(UInt64(sessionNonce.count))
        bytes += sessionNonce
        let name = Array(vectorName.utf8)
        append(UInt64(name.count))
        bytes += name
        // Appended only when on, so that unauthenticated rounds keep their session ids.
        if consistencyCheck { bytes += Array("/consistency-check".utf8) }
        return bytes
    }
}

// MARK: - Parameter selection

extension SecAggConfiguration {
    /// Chooses the graph and threshold from the number of parties and the tolerated rates, in
    /// the manner of Google's `graph_parameter_finder.cc`: the complete graph up to
    /// `completeGraphLimit` parties; beyond, the smallest even Harary degree k for which
    /// (a) the corrupt parties among a neighbourhood reach t with probability ≤ 2^-40/n,
    /// (b) fewer than t neighbours survive with probability ≤ 2^-20/n, and
    /// (c) the honest survivors' graph disconnects with probability ≤ 2^-40 (union bound).
    ///
    /// - Parameters:
    ///   - dropoutRate: the largest fraction of parties that may drop (0 ≤ δ < 1).
    ///   - corruptionRate: the largest fraction that may collude with the server (0 ≤ γ < 1).
    /// - Throws: `invalidConfiguration` when no (graph, t) satisfies these rates.
    public static func recommended(
        parties: Int, vectorLength: Int, dropoutRate: Double = 0.1,
        corruptionRate: Double = 0.1, adversary: SecAggAdversary = .semiMalicious,
        sessionNonce: [UInt8] = [], round: UInt64 = 0,
        vectorName: String = "attention", consistencyCheck: Bool = false
    ) throws -> SecAggConfiguration {
        var (graph, threshold) = try chooseParameters(
            parties: parties, dropoutRate: dropoutRate,
            corruptionRate: corruptionRate, adversary: adversary)
        if consistencyCheck {
            let neighbourhood: Int
            switch graph {
            case .complete: neighbourhood = parties
            case .harary(let degree): neighbourhood = degree + 1
            }
            threshold = max(threshold, smallestSafeThreshold(neighbourhood: neighbourhood))
        }
        return try SecAggConfiguration(
            parties: parties, threshold: threshold, vectorLength: vectorLength,
            graph: graph, sessionNonce: sessionNonce, round: round, vectorName: vectorName,
            consistencyCheck: consistencyCheck)
    }

    /// The (graph, threshold) pair `recommended` uses.
    public static func chooseParameters(
        parties n: Int, dropoutRate δ: Double, corruptionRate γ: Double,
        adversary: SecAggAdversary
    ) throws -> (SecAggGraph, Int) {
        guard n >= 3 else { throw SecAggError.invalidConfiguration("at least 3 parties are needed, got \(n)") }
        guard (0..<1).contains(δ), (0..<1).contains(γ) else {
            throw SecAggError.invalidConfiguration("dropout rate \(δ) and corruption rate \(γ) must be in [0, 1)")
        }
        switch adversary {
        case .honestButCurious where γ + δ > 0.9:
            throw SecAggError.invalidConfiguration("corruption + dropout rates (\(γ + δ)) exceed 0.9")
        case .semiMalicious where γ + 2 * δ > 0.9:
            throw SecAggError.invalidConfiguration("corruption + 2 × dropout rates (\(γ + 2 * δ)) exceed 0.9 for a semi-malicious server")
        default: break
        }
        let corrupt = Int((γ * Double(n)).rounded(.up))
        let dropped = Int((δ * Double(n)).rounded(.up))

        if n > completeGraphLimit {
            let others = n - 1
            let securityTail = Foundation.pow(2.0, -40) / Double(n)
            let failureTail = Foundation.pow(2.0, -20) / Double(n)
            var k = 2
            while k < n - 1 {
                // (a) corrupt neighbours: the smallest c with Pr[X > c] ≤ securityTail.
                let corruptBound = Hypergeometric(population: others, successes: corrupt, draws: k).upperQuantile(tail: securityTail)
                var t = corruptBound + 1
                if adversary == .semiMalicious { t = (corruptBound + k + 1) / 2 + 1 }
                t = max(t, 2)
                // (b) survivors: the largest s with Pr[S < s] ≤ failureTail (self not counted).
                let survivorBound = Hypergeometric(population: others, successes: others - dropped, draws: k).lowerQuantile(tail: failureTail)
                // (c) connectivity of honest survivors.
                let bad = min(corrupt + dropped, n)
                let connected = disconnectionBound(parties: n, bad: bad, window: k / 2) <= Foundation.pow(2.0, -40)
                if t <= survivorBound, t <= k + 1, connected { return (.harary(degree: k), t) }
                k += 2
            }
        }
        // Complete graph.
        var t = corrupt + 1
        if adversary == .semiMalicious { t = (n + corrupt) / 2 + 1 }
        t = max(t, 2)
        guard t <= n - dropped else {
            throw SecAggError.invalidConfiguration(
                "no threshold fits \(n) parties with dropout rate \(δ) and corruption rate \(γ): need t ≥ \(t) but only \(n - dropped) may survive")
        }
        return (.complete, t)
    }

    /// Union bound on two disjoint runs of `window` consecutive bad positions in the ring.
    static func disconnectionBound(parties n: Int, bad: Int, window: Int) -> Double {
        guard bad >= 2 * window else { return 0 }
        var probability = 1.0
        for i in 0..<(2 * window) { probability *= Double(bad - i) / Double(n - i) }
        return Double(n) * Double(n) * probability
    }
}

/// The hypergeometric distribution: `draws` items without replacement from `population`, of
/// which `successes` are marked.
struct Hypergeometric {
    let population: Int
    let successes: Int
    let draws: Int

    private func logChoose(_ n: Int, _ k: Int) -> Double {
        guard k >= 0, k <= n else { return -.infinity }
        return lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }

    func probability(_ x: Int) -> Double {
        let log = logChoose(successes, x) + logChoose(population - successes, draws - x) - logChoose(population, draws)
        return log.isFinite ? exp(log) : 0
    }

    /// The smallest c with Pr[X > c] ≤ tail.
    func upperQuantile(tail: Double) -> Int {
        var above = 0.0
        var c = draws
        while c > 0 {
            above += probability(c)
            if above > tail { return c }
            c -= 1
        }
        return 0
    }

    /// The largest s with Pr[X < s] ≤ tail.
    func lowerQuantile(tail: Double) -> Int {
        var below = 0.0
        for s in 0...draws {
            below += probability(s)
            if below > tail { return s }
        }
        return draws
    }
}
