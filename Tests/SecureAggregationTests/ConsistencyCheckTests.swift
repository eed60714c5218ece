import Foundation
import Primitives
import Testing

@testable import SecureAggregation

/// A deterministic stand-in for the federation's ECDSA signatures: party i's signature on m is
/// SHA-256(secret_i ‖ m), and verification recomputes it (so the verifier here knows every
/// secret, which a real verifier never does; the module only sees the two closures). The
/// credential names the party, and a credential of another party fails.
enum FakeSigner {
    static func secret(_ party: Int) -> [UInt8] { SHA256.hash(Array("fedshare-test/fake-signer/secret/\(party)".utf8)) }
    static func credential(_ party: Int) -> [UInt8] { Array("fake-certificate-of-party-\(party)".utf8) }
    static func sign(_ party: Int, _ message: [UInt8]) -> [UInt8] { SHA256.hash(secret(party) + message) }

    static let verify: SecAggAuthenticator.Verify = { party, credential, message, signature in
        credential == FakeSigner.credential(party) && signature == FakeSigner.sign(party, message)
    }

    static func authenticator(_ party: Int) -> SecAggAuthenticator {
        SecAggAuthenticator(credential: credential(party), sign: { FakeSigner.sign(party, $0) }, verify: verify)
    }

    static func authenticators(_ parties: Int) -> [SecAggAuthenticator] { (0..<parties).map(authenticator) }
}

/// Authenticated rounds with the consistency check, driven by hand.
extension Harness {
    static func checked(
        parties: Int = 5, threshold: Int = 3, length: Int = 6, graph: SecAggGraph = .complete, seed: UInt64 = 7,
        serverVerifies: Bool = false
    ) throws -> Harness {
        try Harness(
            parties: parties, threshold: threshold, length: length, graph: graph, seed: seed, sessionNonce: [4, 2], round: 11,
            checked: true, serverVerifies: serverVerifies)
    }

    /// Honest up to the survivor sets the server sends (not delivered).
    mutating func runToSurvivorSets(dropAtShare: Set<Int> = [], dropAtMasking: Set<Int> = []) throws -> [Addressed<ServerMessage>] {
        let directories = try toServer(clients.map { $0.advertiseKeys() })
        let shareKeys = try toClients(directories).filter { !dropAtShare.contains($0.sender) }
        let forwarded = try toServer(shareKeys, close: !dropAtShare.isEmpty)
        let masked = try toClients(forwarded).filter { !dropAtMasking.contains($0.sender) }
        return try toServer(masked, close: !dropAtMasking.isEmpty)
    }

    /// Honest up to the unmasking requests (not delivered).
    mutating func runCheckedToUnmaskingRequests(dropAtShare: Set<Int> = [], dropAtMasking: Set<Int> = []) throws -> [Addressed<ServerMessage>] {
        let sets = try runToSurvivorSets(dropAtShare: dropAtShare, dropAtMasking: dropAtMasking)
        return try toServer(try toClients(sets))
    }
}

/// The shares an unmasking response reveals, per owner: how many of each kind.
struct RevealedCounts {
    var seed: [Int: Int] = [:]
    var maskKey: [Int: Int] = [:]

    mutating func add(_ message: ClientMessage) {
        guard case .unmaskingResponse(let response) = message else { return }
        for share in response.seedShares { seed[share.owner, default: 0] += 1 }
        for share in response.maskKeyShares { maskKey[share.owner, default: 0] += 1 }
    }

    /// Owners for which t of both kinds were revealed: their input is unmasked.
    func exposed(threshold: Int) -> [Int] {
        seed.keys.filter { seed[$0, default: 0] >= threshold && maskKey[$0, default: 0] >= threshold }.sorted()
    }
}

private func signature(from reply: ClientMessage?) throws -> [UInt8] {
    guard case .survivorSignature(let message)? = reply else { throw SecAggError.malformed(what: "reply", reason: "not a survivor signature") }
    return message.signature
}

@Suite struct ConsistencyCheckRoundTests {
    static let roundCases: [(Int, Int, SecAggGraph, Bool)] = [(3, 2, .complete), (5, 3, .complete), (10, 6, .complete), (12, 4, .harary(degree: 6))]
        .flatMap { parties, threshold, graph in [false, true].map { (parties, threshold, graph, $0) } }

    @Test(arguments: roundCases)
    func authenticatedRoundsAreExact(parties: Int, threshold: Int, graph: SecAggGraph, serverVerifies: Bool) throws {
        var rng = SeededRandom(seed: UInt64(parties * 31 + threshold))
        let config = try SecAggConfiguration(
            parties: parties, threshold: threshold, vectorLength: 19, graph: graph,
            sessionNonce: [7], round: 2, consistencyCheck: true)
        let inputs = randomInputs(parties: parties, length: 19, rng: &rng)
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs, authenticators: FakeSigner.authenticators(parties),
            verifier: serverVerifies ? FakeSigner.verify : nil
        ).run(using: &rng)
        let result = try #require(report.result, "aborted: \(String(describing: report.abortReason)) \(report.clientAborts)")
        #expect(result.sum == expectedSum(inputs, over: 0..<parties))
        #expect(result.contributors == Array(0..<parties))
        #expect(report.clientAborts.isEmpty)
    }

    static let dropCases: [(InMemorySecAggRound.DropPoint, SecAggGraph)] =
        InMemorySecAggRound.DropPoint.allCases.flatMap { point in [(point, .complete), (point, .harary(degree: 6))] }

    /// Dropouts at every phase, the consistency check included: the sum is exactly that of U3
    /// (a party that drops at the check or at unmasking sent its masked input and is counted).
    @Test(arguments: dropCases)
    func dropoutsAtEveryPhaseWithTheCheck(point: InMemorySecAggRound.DropPoint, graph: SecAggGraph) throws {
        var rng = SeededRandom(seed: 77)
        let parties = 12
        let threshold = graph == .complete ? 7 : 4
        let config = try SecAggConfiguration(parties: parties, threshold: threshold, vectorLength: 20, graph: graph, consistencyCheck: true)
        let inputs = randomInputs(parties: parties, length: 20, rng: &rng)
        let dropped = [2, 7]
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs,
            dropouts: Dictionary(uniqueKeysWithValues: dropped.map { ($0, point) }),
            authenticators: FakeSigner.authenticators(parties)
        ).run(using: &rng)
        let result = try #require(report.result, "aborted: \(String(describing: report.abortReason)) \(report.clientAborts)")
        let counted = [.duringConsistencyCheck, .duringUnmasking].contains(point) ? Array(0..<parties) : (0..<parties).filter { !dropped.contains($0) }
        #expect(result.contributors == counted)
        #expect(result.sum == expectedSum(inputs, over: counted))
        for party in dropped { #expect(result.dropouts[party] == point.phase) }
        #expect(report.clientAborts.isEmpty)
    }

    @Test func dropoutsInEveryPhaseOfOneRound() throws {
        var rng = SeededRandom(seed: 18)
        let config = try SecAggConfiguration(parties: 12, threshold: 7, vectorLength: 9, consistencyCheck: true)
        let inputs = randomInputs(parties: 12, length: 9, rng: &rng)
        let dropouts: [Int: InMemorySecAggRound.DropPoint] = [
            0: .beforeAdvertise, 3: .duringShareKeys, 5: .duringMaskedInput,
            8: .duringConsistencyCheck, 11: .duringUnmasking,
        ]
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs, dropouts: dropouts,
            authenticators: FakeSigner.authenticators(12)
        ).run(using: &rng)
        let result = try #require(report.result, "aborted: \(String(describing: report.abortReason))")
        let counted = [1, 2, 4, 6, 7, 8, 9, 10, 11]
        #expect(result.contributors == counted)
        #expect(result.sum == expectedSum(inputs, over: counted))
        #expect(result.dropouts == [0: .advertiseKeys, 3: .shareKeys, 5: .maskedInput, 8: .consistencyCheck, 11: .unmasking])
    }

    /// Fewer than t signatures: the server aborts at the check, naming who did not sign, and no
    /// share is ever requested.
    @Test func tooFewSignaturesAbortAtTheCheck() throws {
        var rng = SeededRandom(seed: 3)
        let config = try SecAggConfiguration(parties: 5, threshold: 3, vectorLength: 4, consistencyCheck: true)
        let inputs = randomInputs(parties: 5, length: 4, rng: &rng)
        let report = try InMemorySecAggRound(
            configuration: config, inputs: inputs,
            dropouts: [1: .duringConsistencyCheck, 2: .duringConsistencyCheck, 4: .duringConsistencyCheck],
            authenticators: FakeSigner.authenticators(5)
        ).run(using: &rng)
        #expect(report.result == nil)
        #expect(report.abortReason == .tooFewParties(phase: .consistencyCheck, remaining: 2, needed: 3, missing: [1, 2, 4]))
    }

    /// The same configuration without the check runs exactly as before (no survivor set).
    @Test func withoutTheCheckNoSurvivorSetIsSent() throws {
        var harness = try Harness(parties: 4, threshold: 2)
        let requests = try harness.runToUnmaskingRequests()
        #expect(requests.allSatisfy { if case .unmaskingRequest(let request) = $0.message { return request.signatures.isEmpty } else { return false } })
    }
}

@Suite struct EquivocationTests {
    /// The attack the consistency check exists for, on the old flow (no check, 2t ≤ n): the
    /// server tells parties 0 and 3 that everyone is alive and parties 1 and 2 that party 3
    /// died after masking, collects t self-mask shares and t mask-key shares of party 3, and
    /// recovers its input exactly. Every client check of the old protocol passes.
    @Test func withoutTheCheckDifferentDeadListsUnmaskOneInput() throws {
        var harness = try Harness(parties: 4, threshold: 2)
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        guard case .keyDirectory(let directory) = directories[0].message else {
            Issue.record("no directory")
            return
        }
        let shareKeys = try harness.toClients(directories)
        let forwarded = try harness.toServer(shareKeys)
        let masked = try harness.toClients(forwarded)
        _ = try harness.toServer(masked)
        guard case .maskedInput(let victimMasked)? = masked.first(where: { $0.sender == 3 }) else {
            Issue.record("no masked input")
            return
        }
        let sid = directory.sessionID
        var seedShares: [Shamir.Share] = []
        var keyShares: [Shamir.Share] = []
        for party in 0..<4 {
            let request =
                [0, 3].contains(party)
                ? UnmaskingRequest(sessionID: sid, alive: [0, 1, 2, 3], dead: [])
                : UnmaskingRequest(sessionID: sid, alive: [0, 1, 2], dead: [3])
            guard case .unmaskingResponse(let response)? = try harness.clients[party].receive(.unmaskingRequest(request)) else { continue }
            let point = UInt64(party) + 1
            seedShares += response.seedShares.filter { $0.owner == 3 }.compactMap { Shamir.Share(x: point, encoded: $0.share) }
            keyShares += response.maskKeyShares.filter { $0.owner == 3 }.compactMap { Shamir.Share(x: point, encoded: $0.share) }
        }
        #expect(seedShares.count == 2 && keyShares.count == 2)
        let seed = try Shamir.reconstruct(seedShares, threshold: 2)
        let maskKey = try KeyAgreementKey(rawRepresentation: try Shamir.reconstruct(keyShares, threshold: 2))
        var terms = [MaskExpander.Term(key: try SessionCrypto.selfMaskKey(seed: seed, sessionID: sid, configuration: harness.config, owner: 3), subtract: true)]
        for peer in directory.keys where peer.party != 3 {
            let secret = try maskKey.sharedSecret(with: peer.maskPublicKey)
            terms.append(
                MaskExpander.Term(
                    key: try SessionCrypto.pairwiseMaskKey(sharedSecret: secret, sessionID: sid, configuration: harness.config, 3, peer.party),
                    subtract: peer.party < 3))
        }
        var recovered = victimMasked.vector
        try MaskExpander.apply(terms, to: &recovered)
        #expect(recovered == harness.inputs[3], "the old flow leaks party 3's input to an equivocating server")
    }

    /// The same split with the check (t = 3 of 4, the smallest safe threshold): each group
    /// signs its own survivor set, neither reaches t signatures, and every party refuses every
    /// request the server can build (all signatures, only its group's, or made-up ones), so
    /// nothing is revealed at all.
    @Test func differentSurvivorSetsAreRefusedByEveryParty() throws {
        var harness = try Harness.checked(parties: 4, threshold: 3)
        let sets = try harness.runToSurvivorSets()
        guard case .survivorSet(let honest) = try #require(sets.first).message else {
            Issue.record("no survivor set")
            return
        }
        let sid = honest.sessionID
        let told: [Int: [Int]] = [0: [0, 1, 2, 3], 3: [0, 1, 2, 3], 1: [0, 1, 2], 2: [0, 1, 2]]
        var signed: [Int: [UInt8]] = [:]
        for party in 0..<4 {
            signed[party] = try signature(from: try harness.clients[party].receive(.survivorSet(SurvivorSet(sessionID: sid, survivors: told[party]!))))
        }
        let all = (0..<4).map { SignedSurvivor(party: $0, signature: signed[$0]!) }
        var revealed = RevealedCounts()
        for party in 0..<4 {
            let set = told[party]!
            let group = all.filter { told[$0.party] == set }
            let madeUp =
                group + (0..<4).filter { told[$0] != set && set.contains($0) }.map { SignedSurvivor(party: $0, signature: [UInt8](repeating: 0xAB, count: 32)) }
            let dead = [0, 1, 2, 3].filter { !set.contains($0) }
            for variant in [all, group, madeUp] {
                var client = harness.clients[party]
                let request = UnmaskingRequest(sessionID: sid, alive: set, dead: dead, signatures: variant)
                do {
                    let reply = try client.receive(.unmaskingRequest(request))
                    if let reply { revealed.add(reply) }
                    Issue.record("party \(party) answered an equivocating request")
                } catch let error as SecAggError {
                    guard case .aborted = client.state else {
                        Issue.record("party \(party) did not abort: \(error)")
                        continue
                    }
                }
            }
        }
        #expect(revealed.seed.isEmpty && revealed.maskKey.isEmpty)
        // The specific reasons, for party 0 (group {0, 3}) and party 1 (group {1, 2}).
        var zero = harness.clients[0]
        #expect(throws: SecAggError.badSurvivorSignature(party: 0, signer: 1)) {
            try zero.receive(.unmaskingRequest(UnmaskingRequest(sessionID: sid, alive: [0, 1, 2, 3], dead: [], signatures: all)))
        }
        var one = harness.clients[1]
        #expect(throws: SecAggError.tooFewSurvivorSignatures(party: 1, valid: 2, needed: 3)) {
            try one.receive(
                .unmaskingRequest(
                    UnmaskingRequest(
                        sessionID: sid, alive: [0, 1, 2], dead: [3],
                        signatures: all.filter { [1, 2].contains($0.party) })))
        }
    }

    /// n = 5, t = 3: the server gives one group of three the full set (which then carries t
    /// valid signatures and is answered, with self-mask shares only) and the other two parties
    /// a set without party 4. The two refuse, so no owner's shares of both kinds reach t.
    @Test func oneGroupAtThresholdStillExposesNoOne() throws {
        var harness = try Harness.checked(parties: 5, threshold: 3)
        let sets = try harness.runToSurvivorSets()
        guard case .survivorSet(let honest) = try #require(sets.first).message else { return }
        let sid = honest.sessionID
        let full = [0, 1, 2, 3, 4]
        let partial = [0, 1, 2, 3]
        let told: [Int: [Int]] = [0: full, 1: full, 4: full, 2: partial, 3: partial]
        var signed: [Int: [UInt8]] = [:]
        for party in 0..<5 {
            signed[party] = try signature(from: try harness.clients[party].receive(.survivorSet(SurvivorSet(sessionID: sid, survivors: told[party]!))))
        }
        let all = (0..<5).map { SignedSurvivor(party: $0, signature: signed[$0]!) }
        var revealed = RevealedCounts()
        var refused: Set<Int> = []
        for party in 0..<5 {
            let set = told[party]!
            let group = all.filter { told[$0.party] == set }
            for variant in [group, all] {
                var client = harness.clients[party]
                let request = UnmaskingRequest(sessionID: sid, alive: set, dead: full.filter { !set.contains($0) }, signatures: variant)
                if let reply = try? client.receive(.unmaskingRequest(request)) { revealed.add(reply) } else { refused.insert(party) }
            }
        }
        #expect(refused == [0, 1, 2, 3, 4])  // every party refuses the mixed list
        #expect(revealed.maskKey[4, default: 0] == 0)
        #expect(revealed.seed[4, default: 0] == 3)
        #expect(revealed.exposed(threshold: 3).isEmpty)
    }
}

@Suite struct UnmaskingRequestSignatureTests {
    /// n = 6, t = 4; party 5 sends shares but no masked input, so the honest request is
    /// alive [0…4], dead [5], with the five survivors' signatures.
    static func honestRequest() throws -> (Harness, UnmaskingRequest) {
        var harness = try Harness.checked(parties: 6, threshold: 4)
        let requests = try harness.runCheckedToUnmaskingRequests(dropAtMasking: [5])
        guard case .unmaskingRequest(let request) = try #require(requests.first).message else {
            throw SecAggError.malformed(what: "test", reason: "no unmasking request")
        }
        return (harness, request)
    }

    @Test func theHonestRequestIsAnswered() throws {
        let (honestHarness, request) = try Self.honestRequest()
        var harness = honestHarness
        #expect(request.alive == [0, 1, 2, 3, 4] && request.dead == [5] && request.signatures.map(\.party) == [0, 1, 2, 3, 4])
        let reply = try harness.clients[0].receive(.unmaskingRequest(request))
        guard case .unmaskingResponse(let response)? = reply else {
            Issue.record("no response")
            return
        }
        #expect(response.seedShares.map(\.owner) == [0, 1, 2, 3, 4])
        #expect(response.maskKeyShares.map(\.owner) == [5])
    }

    static let tamperings: [(String, @Sendable (UnmaskingRequest) -> UnmaskingRequest, SecAggError)] = [
        (
            "unsigned: no signatures", { UnmaskingRequest(sessionID: $0.sessionID, alive: $0.alive, dead: $0.dead) },
            .tooFewSurvivorSignatures(party: 0, valid: 0, needed: 4)
        ),
        (
            "too few signatures", { UnmaskingRequest(sessionID: $0.sessionID, alive: $0.alive, dead: $0.dead, signatures: Array($0.signatures.prefix(3))) },
            .tooFewSurvivorSignatures(party: 0, valid: 3, needed: 4)
        ),
        (
            "one signature empty",
            { request in
                UnmaskingRequest(
                    sessionID: request.sessionID, alive: request.alive, dead: request.dead,
                    signatures: request.signatures.map { $0.party == 2 ? SignedSurvivor(party: 2, signature: []) : $0 })
            }, .badSurvivorSignature(party: 0, signer: 2)
        ),
        (
            "wrongly signed: party 3's signature attributed to party 1",
            { request in
                UnmaskingRequest(
                    sessionID: request.sessionID, alive: request.alive, dead: request.dead,
                    signatures: request.signatures.map { $0.party == 1 ? SignedSurvivor(party: 1, signature: request.signatures[3].signature) : $0 })
            }, .badSurvivorSignature(party: 0, signer: 1)
        ),
        (
            "signatures over a different set",
            { request in
                let other = SecAggTranscript.survivorSet(sessionID: request.sessionID, survivors: [0, 1, 2, 3])
                return UnmaskingRequest(
                    sessionID: request.sessionID, alive: request.alive, dead: request.dead,
                    signatures: [1, 2, 3, 4].map { SignedSurvivor(party: $0, signature: FakeSigner.sign($0, other)) })
            }, .badSurvivorSignature(party: 0, signer: 1)
        ),
        (
            "signatures over another session",
            { request in
                let other = SecAggTranscript.survivorSet(sessionID: [UInt8](repeating: 1, count: 32), survivors: request.alive)
                return UnmaskingRequest(
                    sessionID: request.sessionID, alive: request.alive, dead: request.dead,
                    signatures: [1, 2, 3, 4].map { SignedSurvivor(party: $0, signature: FakeSigner.sign($0, other)) })
            }, .badSurvivorSignature(party: 0, signer: 1)
        ),
        (
            "a signer outside the survivor set",
            { request in
                let transcript = SecAggTranscript.survivorSet(sessionID: request.sessionID, survivors: request.alive)
                return UnmaskingRequest(
                    sessionID: request.sessionID, alive: request.alive, dead: request.dead,
                    signatures: request.signatures + [SignedSurvivor(party: 5, signature: FakeSigner.sign(5, transcript))])
            }, .signerNotSurvivor(party: 0, signer: 5)
        ),
        (
            "a signer listed twice",
            { request in
                UnmaskingRequest(
                    sessionID: request.sessionID, alive: request.alive, dead: request.dead,
                    signatures: Array(request.signatures.prefix(3)) + [request.signatures[1]])
            }, .repeatedEntry(party: 0, list: "signatures", peer: 1)
        ),
        (
            "alive ≠ the signed set (one fewer)",
            { UnmaskingRequest(sessionID: $0.sessionID, alive: [0, 1, 2, 3], dead: [4, 5], signatures: $0.signatures.filter { $0.party != 4 }) },
            .aliveNotSignedSet(party: 0)
        ),
        (
            "alive ≠ the signed set (a dead party revived)",
            { UnmaskingRequest(sessionID: $0.sessionID, alive: [0, 1, 2, 3, 4, 5], dead: [], signatures: $0.signatures) },
            .aliveNotSignedSet(party: 0)
        ),
        (
            "dead ≠ U2 \\ U3 (a dropout omitted)", { UnmaskingRequest(sessionID: $0.sessionID, alive: $0.alive, dead: [], signatures: $0.signatures) },
            .deadNotComplement(party: 0)
        ),
        (
            "dead ≠ U2 \\ U3 (a survivor added)", { UnmaskingRequest(sessionID: $0.sessionID, alive: $0.alive, dead: [4, 5], signatures: $0.signatures) },
            .deadNotComplement(party: 0)
        ),
    ]

    /// Each forgery is refused before anything is revealed, and the client aborts.
    @Test(arguments: 0..<tamperings.count)
    func forgedRequestsAreRefused(index: Int) throws {
        let (name, tamper, reason) = Self.tamperings[index]
        let (honestHarness, request) = try Self.honestRequest()
        var harness = honestHarness
        #expect(throws: reason, "\(name)") { try harness.clients[0].receive(.unmaskingRequest(tamper(request))) }
        #expect(harness.clients[0].state == .aborted(reason), "\(name)")
        // Aborted, it answers nothing afterwards, not even the honest request.
        #expect(throws: SecAggError.self) { try harness.clients[0].receive(.unmaskingRequest(request)) }
    }

    /// A server that skips the consistency phase gets no shares: the request is out of order.
    @Test func skippingTheCheckIsRefused() throws {
        var harness = try Harness.checked(parties: 5, threshold: 3)
        let sets = try harness.runToSurvivorSets()
        guard case .survivorSet(let survivors) = try #require(sets.first).message else { return }
        let request = UnmaskingRequest(sessionID: survivors.sessionID, alive: survivors.survivors, dead: [])
        #expect(throws: SecAggError.unexpectedMessage(party: 0, received: "unmasking request", expected: "survivor set")) {
            try harness.clients[0].receive(.unmaskingRequest(request))
        }
        #expect(harness.clients[0].state == .awaitingSurvivorSet)
    }
}

@Suite struct SurvivorSetChecks {
    /// n = 6, t = 4; party 4 sends no shares (outside everyone's U2), party 5 no masked input.
    static let cases: [([Int], SecAggError)] = [
        ([0, 1, 2, 3, 4], .survivorOutsideView(party: 0, peer: 4)),
        ([1, 2, 3, 5], .selfNotSurvivor(party: 0)),
        ([0, 2, 1, 3], .survivorsNotAscending(party: 0)),
        ([0, 1, 1, 2, 3], .survivorsNotAscending(party: 0)),
        ([0, 1, 2], .tooFewAlive(party: 0, phase: .consistencyCheck, alive: 3, needed: 4)),
        ([0, 1, 2, 3, 9], .unknownParty(9)),
    ]

    @Test(arguments: cases)
    func badSurvivorSetsAreNotSigned(survivors: [Int], reason: SecAggError) throws {
        var harness = try Harness.checked(parties: 6, threshold: 4)
        let sets = try harness.runToSurvivorSets(dropAtShare: [4], dropAtMasking: [5])
        guard case .survivorSet(let honest) = try #require(sets.first).message else { return }
        #expect(honest.survivors == [0, 1, 2, 3])
        #expect(throws: reason) { try harness.clients[0].receive(.survivorSet(SurvivorSet(sessionID: honest.sessionID, survivors: survivors))) }
        #expect(harness.clients[0].state == .aborted(reason))
    }
}

@Suite struct SignedKeyTests {
    /// The server replaces party 2's mask key with one it holds (recomputing the session id to
    /// match): every other party refuses the directory, naming party 2.
    @Test(arguments: ["substituted mask key", "substituted channel key", "unsigned", "another party's credential", "signed for another round"])
    func forgedDirectoryEntriesAreRefused(forgery: String) throws {
        var harness = try Harness.checked(parties: 5, threshold: 3)
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        guard case .keyDirectory(let directory) = directories[0].message else {
            Issue.record("no directory")
            return
        }
        let original = directory.keys[2]
        let rogue = try KeyAgreementKey(rawRepresentation: [UInt8](repeating: 7, count: 32)).publicKey
        let forged: AdvertisedKeys
        switch forgery {
        case "substituted mask key":
            forged = AdvertisedKeys(
                party: 2, maskPublicKey: rogue, channelPublicKey: original.channelPublicKey,
                credential: original.credential, signature: original.signature)
        case "substituted channel key":
            forged = AdvertisedKeys(
                party: 2, maskPublicKey: original.maskPublicKey, channelPublicKey: rogue,
                credential: original.credential, signature: original.signature)
        case "unsigned":
            forged = AdvertisedKeys(party: 2, maskPublicKey: original.maskPublicKey, channelPublicKey: original.channelPublicKey)
        case "another party's credential":
            let transcript = SecAggTranscript.advertisedKeys(original, configuration: harness.config)
            forged = AdvertisedKeys(
                party: 2, maskPublicKey: original.maskPublicKey, channelPublicKey: original.channelPublicKey,
                credential: FakeSigner.credential(3), signature: FakeSigner.sign(3, transcript))
        default:
            let transcript = SecAggTranscript.advertisedKeys(
                round: harness.config.round + 1, sessionNonce: harness.config.sessionNonce, party: 2,
                maskPublicKey: original.maskPublicKey, channelPublicKey: original.channelPublicKey)
            forged = AdvertisedKeys(
                party: 2, maskPublicKey: original.maskPublicKey, channelPublicKey: original.channelPublicKey,
                credential: original.credential, signature: FakeSigner.sign(2, transcript))
        }
        let keys = directory.keys.map { $0.party == 2 ? forged : $0 }
        let tampered = KeyDirectory(round: directory.round, sessionID: SessionCrypto.sessionID(configuration: harness.config, keys: keys), keys: keys)
        for party in [0, 1, 3, 4] {
            #expect(throws: SecAggError.unsignedKey(party: party, peer: 2), "\(forgery)") {
                try harness.clients[party].receive(.keyDirectory(tampered))
            }
            #expect(harness.clients[party].state == .aborted(.unsignedKey(party: party, peer: 2)))
        }
        // Party 2 sees its own entry altered.
        #expect(throws: SecAggError.self) { try harness.clients[2].receive(.keyDirectory(tampered)) }
    }

    /// Without authentication, the same substitution goes unnoticed (what the signatures fix).
    @Test func unauthenticatedClientsAcceptASubstitutedKey() throws {
        var harness = try Harness(parties: 5, threshold: 3)
        let directories = try harness.toServer(harness.clients.map { $0.advertiseKeys() })
        guard case .keyDirectory(let directory) = directories[0].message else { return }
        let rogue = try KeyAgreementKey(rawRepresentation: [UInt8](repeating: 7, count: 32)).publicKey
        let keys = directory.keys.map { $0.party == 2 ? AdvertisedKeys(party: 2, maskPublicKey: rogue, channelPublicKey: $0.channelPublicKey) : $0 }
        let tampered = KeyDirectory(round: directory.round, sessionID: SessionCrypto.sessionID(configuration: harness.config, keys: keys), keys: keys)
        let reply = try harness.clients[0].receive(.keyDirectory(tampered))
        #expect(reply?.phase == .shareKeys)
    }

    /// Given a verifier, the server drops a party whose signature does not verify (so one party
    /// cannot make every honest client abort) and the round still completes.
    @Test func aVerifyingServerRejectsBadSignatures() throws {
        var harness = try Harness.checked(parties: 5, threshold: 3, serverVerifies: true)
        // A bad advertisement.
        let honest = harness.clients[1].advertiseKeys()
        guard case .advertiseKeys(let advertise) = honest else { return }
        let keys = advertise.keys
        let bad = ClientMessage.advertiseKeys(
            AdvertiseKeys(
                round: advertise.round, sessionNonce: advertise.sessionNonce,
                keys: AdvertisedKeys(
                    party: 1, maskPublicKey: keys.maskPublicKey, channelPublicKey: keys.channelPublicKey,
                    credential: keys.credential, signature: [1, 2, 3])))
        #expect(throws: SecAggError.self) { try harness.server.receive(bad) }
        // An honest round to the survivor sets, then party 3 signs the wrong set.
        let sets = try harness.runToSurvivorSets()
        var signatures = try harness.toClients(sets)
        let index = try #require(signatures.firstIndex { $0.sender == 3 })
        guard case .survivorSignature(let genuine) = signatures[index] else { return }
        let wrong = FakeSigner.sign(3, SecAggTranscript.survivorSet(sessionID: genuine.sessionID, survivors: [0, 1, 2, 3]))
        signatures[index] = .survivorSignature(SurvivorSignature(sessionID: genuine.sessionID, sender: 3, signature: wrong))
        var requests: [Addressed<ServerMessage>] = []
        for message in signatures {
            if message.sender == 3 {
                #expect(throws: SecAggError.malformed(what: "survivor signature of party 3", reason: "does not verify over the survivor set")) {
                    try harness.server.receive(message)
                }
            } else {
                requests += try harness.server.receive(message)
            }
        }
        requests += try harness.server.closePhase()
        #expect(Set(requests.map(\.recipient)) == [0, 1, 2, 4])
        _ = try harness.toServer(try harness.toClients(requests))
        let result = try #require(harness.server.result)
        #expect(result.sum == expectedSum(harness.inputs, over: 0..<5))
        #expect(result.dropouts == [3: .consistencyCheck])
    }
}

@Suite struct ConsistencyConfigurationTests {
    @Test(arguments: [
        (4, 2, SecAggGraph.complete, 3), (5, 2, .complete, 3), (10, 5, .complete, 6), (12, 3, .harary(degree: 6), 4), (40, 5, .harary(degree: 10), 6),
    ])
    func unsafeThresholdsAreRefusedNamingTheSafeOne(parties: Int, threshold: Int, graph: SecAggGraph, safe: Int) throws {
        #expect {
            try SecAggConfiguration(parties: parties, threshold: threshold, vectorLength: 4, graph: graph, consistencyCheck: true)
        } throws: { error in
            let text = "\(error)"
            return text.contains("threshold = \(threshold) is unsafe") && text.contains("unmask one party's input")
                && text.contains("the smallest safe threshold is \(safe)")
        }
        #expect(try SecAggConfiguration(parties: parties, threshold: safe, vectorLength: 4, graph: graph, consistencyCheck: true).threshold == safe)
        // Without the check the old rule stands (honest-but-curious server).
        #expect(try SecAggConfiguration(parties: parties, threshold: threshold, vectorLength: 4, graph: graph).threshold == threshold)
    }

    @Test func recommendedRaisesTheThresholdForTheCheck() throws {
        let config = try SecAggConfiguration.recommended(parties: 10, vectorLength: 4, adversary: .honestButCurious, consistencyCheck: true)
        #expect(2 * config.threshold > config.neighbourhoodSize)
        #expect(config.consistencyCheck)
    }

    @Test func theCheckNeedsAnAuthenticator() throws {
        var rng = SeededRandom(seed: 1)
        let config = try SecAggConfiguration(parties: 3, threshold: 2, vectorLength: 2, consistencyCheck: true)
        #expect(throws: SecAggError.self) { try SecAggClient(id: 0, configuration: config, input: [1, 2], using: &rng) }
        let client = try SecAggClient(id: 0, configuration: config, input: [1, 2], using: &rng, authenticator: FakeSigner.authenticator(0))
        guard case .advertiseKeys(let advertise) = client.advertiseKeys() else { return }
        #expect(advertise.keys.credential == FakeSigner.credential(0))
        #expect(
            FakeSigner.verify(0, advertise.keys.credential, SecAggTranscript.advertisedKeys(advertise.keys, configuration: config), advertise.keys.signature))
    }

    @Test func theCheckIsBoundIntoTheSessionID() throws {
        let off = try SecAggConfiguration(parties: 3, threshold: 2, vectorLength: 2)
        let on = try SecAggConfiguration(parties: 3, threshold: 2, vectorLength: 2, consistencyCheck: true)
        #expect(off.canonicalBytes != on.canonicalBytes)
        #expect(SessionCrypto.sessionID(configuration: off, keys: []) != SessionCrypto.sessionID(configuration: on, keys: []))
    }

    @Test func transcriptsAreLengthPrefixedAndDomainSeparated() {
        let keys = SecAggTranscript.advertisedKeys(round: 1, sessionNonce: [9], party: 2, maskPublicKey: [1, 2], channelPublicKey: [3])
        #expect(
            keys == Array("fedshare/secagg/v1/advertised-keys".utf8) + [
                0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 9, 0, 0, 0, 2,
                0, 0, 0, 2, 1, 2, 0, 0, 0, 1, 3,
            ])
        let survivors = SecAggTranscript.survivorSet(sessionID: [7, 7], survivors: [0, 3])
        #expect(survivors == Array("fedshare/secagg/v1/survivor-set".utf8) + [0, 0, 0, 0, 2, 7, 7, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3])
    }

    @Test func newMessagesRoundTripAndOldJSONStillDecodes() throws {
        let request = ServerMessage.unmaskingRequest(
            UnmaskingRequest(
                sessionID: [1], alive: [0, 1], dead: [2],
                signatures: [SignedSurvivor(party: 0, signature: [5])]))
        #expect(try JSONDecoder().decode(ServerMessage.self, from: JSONEncoder().encode(request)) == request)
        let set = ServerMessage.survivorSet(SurvivorSet(sessionID: [1], survivors: [0, 1]))
        #expect(try JSONDecoder().decode(ServerMessage.self, from: JSONEncoder().encode(set)) == set)
        let signature = ClientMessage.survivorSignature(SurvivorSignature(sessionID: [1], sender: 1, signature: [2]))
        #expect(try JSONDecoder().decode(ClientMessage.self, from: JSONEncoder().encode(signature)) == signature)
        let old = Data(#"{"party":1,"maskPublicKey":[1],"channelPublicKey":[2]}"#.utf8)
        #expect(try JSONDecoder().decode(AdvertisedKeys.self, from: old) == AdvertisedKeys(party: 1, maskPublicKey: [1], channelPublicKey: [2]))
        let config = try SecAggConfiguration(parties: 4, threshold: 3, vectorLength: 2, consistencyCheck: true)
        #expect(try JSONDecoder().decode(SecAggConfiguration.self, from: JSONEncoder().encode(config)) == config)
    }
}
