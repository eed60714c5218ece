import DifferentialPrivacy
import Federation
import Foundation
import Testing

/// A party SIGKILLed at a phase: `victims` parties of [1, 2, 3] (threshold 2) die there.
struct KillCase: Sendable, CustomStringConvertible {
    let mode: String
    let phase: String
    let victims: [Int]
    var description: String { "\(mode): \(victims.map { "party \($0)" }.joined(separator: " and ")) killed at \(phase)" }
}

let killCases: [KillCase] = ["paillier", "secagg"].flatMap { mode in
    roundPhases(mode).flatMap { phase in [KillCase(mode: mode, phase: phase, victims: [3]), KillCase(mode: mode, phase: phase, victims: [2, 3])] }
}

/// Separate `fedshare` processes on 127.0.0.1: `provision`, `aggregator`, three `party`
/// processes and `simulate`, from provisioned kits (issue 7's "separate processes" and
/// "SIGKILL at each phase"). Serialized: the cases share the machine's two cores.
@Suite("End to end: separate processes", .serialized)
struct EndToEndTests {
    // MARK: The honest round

    /// Aggregator and 3 parties as separate processes release the clear sum plus DP noise, and
    /// agree with `fedshare simulate` on the same manifest and data.
    ///
    /// Noise: a real aggregator cannot run without noise (`--no-noise` exists only in
    /// simulate, and parties refuse no-noise rounds outside it), so the separate-process
    /// release is checked against the clear sum within 8σ of the summed noise (plus one grid
    /// step per party) and must differ from it; `simulate --no-noise` on the same manifest
    /// must equal the clear sum to the grid step, and both releases must agree in shape,
    /// contributors and privacy cost.
    @Test(arguments: ["paillier", "secagg"])
    func separateProcessesReleaseTheNoisySumSimulateAgrees(mode: String) async throws {
        let federation = try await Federations.shared.federation(mode)
        let run = try await RoundRun(federation, name: "honest")
        var passed = false
        defer { run.finish(removing: passed) }
        for party in 1...3 { try run.startParty(party) }
        let status = try await run.aggregator.exitStatus()
        #expect(status == 0, "aggregator: \(run.aggregator.stderr)")
        var decrypted: [Int] = []
        for party in 1...3 {
            let process = try #require(run.parties[party])
            #expect(try await process.exitStatus() == 0, "party \(party): \(process.stderr)")
            let released = try #require(process.events.first { $0["event"] as? String == "released" }, "party \(party): \(process.stdout)")
            #expect(released["contributors"] as? [Int] == [1, 2, 3])
            // Paillier's long steps are reported as they advance, each up to its total; only
            // the decryption committee (t = 2 of the 3 contributors) decrypts.
            let progress = process.events.filter { $0["event"] as? String == "progress" }
            let reported = Set(progress.compactMap { $0["detail"] as? String })
            if reported.contains("partial decryption") { decrypted.append(party) }
            let steps = mode == "paillier" ? ["encrypting"] + (reported.contains("partial decryption") ? ["partial decryption"] : []) : []
            #expect(reported == Set(steps), "party \(party): \(process.stdout)")
            for step in steps {
                let last = progress.last { $0["detail"] as? String == step }
                #expect(last?["done"] as? Int != nil && last?["done"] as? Int == last?["total"] as? Int, "party \(party) \(step)")
            }
        }
        #expect(decrypted.count == (mode == "paillier" ? 2 : 0), "parties that decrypted: \(decrypted)")
        let summary = try #require(try run.summary(), "no result.json: \(run.aggregator.stderr)")
        #expect(summary.partiesContributed == [1, 2, 3])
        #expect(summary.dropped.isEmpty)
        #expect(summary.mode == mode)
        #expect(!summary.noNoise)
        let released = try run.released()
        let clear = federation.clearSum(of: [1, 2, 3])
        #expect(released.count == clear.count)
        let bound = noiseBound(summary, threshold: federation.threshold)
        #expect(bound > 0 && bound < 1000, "σ from result.json: \(summary.privacyCost)")
        for (index, (value, exact)) in zip(released, clear).enumerated() {
            #expect(abs(value - exact) <= bound, "coordinate \(index): released \(value), clear \(exact), bound \(bound)")
        }
        // Noise was added: the release is not the clear sum (attention values are not rounded).
        let attentionCount = clear.count - summary.groups.count
        #expect(Array(released.prefix(attentionCount)) != Array(clear.prefix(attentionCount)), "the release carries no noise")

        // Every ledger holds the release: the federation's and each party's, committed.
        let federationBudget = try run.budget(ledger: run.aggregatorLedger)
        #expect(federationBudget.releases == 1 && federationBudget.pending == 0)
        #expect(federationBudget.lastRelease != nil)
        for party in 1...3 {
            let budget = try run.budget(ledger: run.ledger(party))
            #expect(budget.releases == 1 && budget.pending == 0, "party \(party): \(budget)")
            #expect(abs(budget.spentEpsilon - federationBudget.spentEpsilon) < 1e-9)
        }

        // The same federation through `fedshare simulate` (its own temporary kits).
        let simulated = run.folder.appendingPathComponent("simulated")
        var arguments = ["simulate", "--manifest", federation.manifest.path]
        for party in 1...3 { arguments += ["--data", federation.data[party]!.path] }
        arguments += ["--no-noise", "--out", simulated.path, "--json"]
        let simulation = try await runFedshare(arguments, in: run.folder, name: "simulate")
        #expect(simulation.status == 0, "\(simulation.stderr)")
        let simulatedSummary = try JSONDecoder().decode(
            RoundOutputs.Summary.self,
            from: Data(contentsOf: simulated.appendingPathComponent("result.json")))
        #expect(simulatedSummary.noNoise)
        #expect(simulatedSummary.partiesContributed == summary.partiesContributed)
        #expect(simulatedSummary.groups == summary.groups && simulatedSummary.anchors == summary.anchors)
        #expect(simulatedSummary.fractionalBits == summary.fractionalBits)
        #expect(simulatedSummary.privacyCost == summary.privacyCost)
        #expect(simulatedSummary.mode == summary.mode)
        let simulatedValues = try readReleased(
            attention: simulated.appendingPathComponent("attention-raw.csv"),
            counts: simulated.appendingPathComponent("counts-raw.csv"))
        let step = 3 / Double(sign: .plus, exponent: summary.fractionalBits, significand: 1)
        for (index, (value, exact)) in zip(simulatedValues, clear).enumerated() {
            #expect(abs(value - exact) <= step, "simulate --no-noise, coordinate \(index): \(value) vs clear \(exact)")
        }
        for (index, (value, other)) in zip(released, simulatedValues).enumerated() {
            #expect(abs(value - other) <= bound + step, "coordinate \(index): processes \(value), simulate \(other)")
        }
        passed = true
    }

    // MARK: Refusals

    /// Two intruders start next to an honest round: one with party 2's kit from another
    /// federation CA, one presenting party 2's kit while claiming id 3. Each exits non-zero
    /// with one clear line; the honest round completes with all three parties and no drops.
    @Test(arguments: ["secagg"])
    func intrudersAreRefusedAndTheRoundIsNotDisturbed(mode: String) async throws {
        let federation = try await Federations.shared.federation(mode)
        let foreign = try await Federations.shared.foreign(mode)
        let run = try await RoundRun(federation, name: "intruders")
        var passed = false
        defer { run.finish(removing: passed) }
        try run.startParty(1)
        try await run.parties[1]!.waitForPhase("join")
        let otherCA = try run.startOther(
            "intruder-other-ca",
            [
                "party", "--id", "2", "--kit", foreign.kit(2).path, "--data", federation.data[2]!.path, "--aggregator", run.address,
                "--ledger", run.folder.appendingPathComponent("ledger-intruder-ca.sqlite").path, "--retry-for", "5", "--json",
            ])
        let wrongID = try run.startOther(
            "intruder-wrong-id",
            [
                "party", "--id", "3", "--kit", federation.kit(2).path, "--data", federation.data[3]!.path, "--aggregator", run.address,
                "--ledger", run.folder.appendingPathComponent("ledger-intruder-id.sqlite").path, "--retry-for", "5", "--json",
            ])
        #expect(try await wrongID.exitStatus() != 0)
        print("E2E intruder claiming id 3 with party 2's kit: \(wrongID.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(wrongID.stderr.contains("--id 3") && wrongID.stderr.contains("party 2's certificate"), "\(wrongID.stderr)")
        #expect(try await otherCA.exitStatus() != 0)
        print("E2E intruder with a kit from another CA: \(otherCA.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        let caMessage = otherCA.stderr.lowercased()
        #expect(caMessage.contains("certificate") || caMessage.contains("trust") || caMessage.contains("refused"), "\(otherCA.stderr)")
        #expect(otherCA.stderr.split(separator: "\n").count <= 3, "one clear line expected: \(otherCA.stderr)")
        // The honest parties 2 and 3 join after the intruders were turned away.
        try run.startParty(2)
        try run.startParty(3)
        #expect(try await run.aggregator.exitStatus() == 0, "\(run.aggregator.stderr)")
        for party in 1...3 { #expect(try await run.parties[party]!.exitStatus() == 0, "party \(party): \(run.parties[party]!.stderr)") }
        let summary = try #require(try run.summary())
        #expect(summary.partiesContributed == [1, 2, 3])
        #expect(summary.dropped.isEmpty, "\(summary.dropped)")
        // The intruders' ledgers never recorded a charge.
        for name in ["ledger-intruder-ca.sqlite", "ledger-intruder-id.sqlite"] {
            let url = run.folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) {
                let budget = try run.budget(ledger: url)
                #expect(budget.releases == 0 && budget.pending == 0)
            }
        }
        passed = true
    }

    // MARK: Party ids that are not 1...n

    /// `simulate` (real kits, gRPC, TLS, a 2048-bit threshold key) with parties [2, 5, 9]:
    /// party 5 holds key share 2 and stops at decrypt, so shares 1 and 3 open the sum. Before
    /// the fix every party refused its own key share (the engine wanted share index = party id).
    @Test func simulateWithPartyIDsTwoFiveNine() async throws {
        let federation = try await Federations.shared.federation("paillier")
        let folder = federation.folder.appendingPathComponent("case-ids-2-5-9", isDirectory: true)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: federation.folder.appendingPathComponent("anchors.csv"), to: folder.appendingPathComponent("anchors.csv"))
        var text = try String(contentsOf: federation.manifest, encoding: .utf8)
        text = text.replacingOccurrences(of: "parties = [1, 2, 3]", with: "parties = [2, 5, 9]")
        #expect(text.contains("parties = [2, 5, 9]"))
        let manifest = folder.appendingPathComponent("manifest.toml")
        try Data(text.utf8).write(to: manifest)
        let out = folder.appendingPathComponent("out")
        var arguments = ["simulate", "--manifest", manifest.path]
        for party in 1...3 { arguments += ["--data", federation.data[party]!.path] }
        // Every contributor decrypts, so that party 5 reaches the decrypt phase whichever t
        // contributions arrive first (the committee's stand-ins are covered by the SIGKILL cases).
        arguments += ["--drop", "5@decrypt", "--decryption-committee", "everyone", "--no-noise", "--out", out.path, "--json"]
        let run = try await runFedshare(arguments, in: folder, name: "simulate-2-5-9")
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONDecoder().decode(RoundOutputs.Summary.self, from: Data(contentsOf: out.appendingPathComponent("result.json")))
        #expect(summary.partiesContributed == [2, 5, 9])
        #expect(summary.dropped.map(\.party) == [5] && summary.dropped.first?.phase == "decrypt", "\(summary.dropped)")
        // Worlds 1, 2, 3 are parties 2, 5, 9: the release is their clear sum.
        let clear = federation.clearSum(of: [1, 2, 3])
        let step = 3 / Double(sign: .plus, exponent: summary.fractionalBits, significand: 1)
        let released = try readReleased(attention: out.appendingPathComponent("attention-raw.csv"), counts: out.appendingPathComponent("counts-raw.csv"))
        #expect(released.count == clear.count)
        for (value, exact) in zip(released, clear) { #expect(abs(value - exact) <= step, "\(value) vs \(exact)") }
    }

    // MARK: SIGKILL at each phase

    /// Kills the victims with SIGKILL right after each reported the phase (its messages for
    /// that phase sent), while the aggregator is still in that phase; checks the outcome and
    /// every ledger. See `drive(_:)` for how the phase is pinned with SIGSTOP/SIGCONT.
    @Test(arguments: killCases)
    func partyKilledAtPhase(_ scenario: KillCase) async throws {
        let federation = try await Federations.shared.federation(scenario.mode)
        let run = try await RoundRun(federation, name: "kill-\(scenario.phase)-\(scenario.victims.count)")
        var passed = false
        defer { run.finish(removing: passed) }
        try await drive(run, scenario)

        let survivors = [1, 2, 3].filter { !scenario.victims.contains($0) }
        let aggregatorStatus = try await run.aggregator.exitStatus()
        var startedSurvivors: [Int] = []
        for party in survivors {
            guard let process = run.parties[party] else { continue }
            startedSurvivors.append(party)
            let status = try await process.exitStatus()
            #expect(status == (survivors.count >= federation.threshold ? 0 : 1), "party \(party): \(process.stderr)")
        }
        let federationBudget = try run.budget(ledger: run.aggregatorLedger)
        if survivors.count >= federation.threshold {
            // ≥ t remain: the round completes without the victim, named in result.json.
            #expect(aggregatorStatus == 0, "\(run.aggregator.stderr)")
            let summary = try #require(try run.summary(), "no result.json: \(run.aggregator.stderr)")
            let victim = scenario.victims[0]
            let named = summary.dropped.first { $0.party == victim }
            #expect(named?.phase == scenario.phase, "\(summary.dropped)")
            #expect(summary.dropped.count == 1, "\(summary.dropped)")
            let sent = Self.contributionLeft(scenario)
            switch sent {
            case .no: #expect(summary.partiesContributed == survivors)
            case .yes: #expect(summary.partiesContributed == [1, 2, 3])
            case .maybe: #expect(summary.partiesContributed == survivors || summary.partiesContributed == [1, 2, 3])
            }
            // The release holds exactly the contributors' data (plus noise).
            let clear = federation.clearSum(of: summary.partiesContributed)
            let bound = noiseBound(summary, threshold: federation.threshold)
            for (value, exact) in zip(try run.released(), clear) { #expect(abs(value - exact) <= bound) }
            for party in survivors {
                let events = run.parties[party]!.events
                #expect(events.contains { $0["event"] as? String == "released" }, "party \(party): \(run.parties[party]!.stdout)")
            }
            // Ledgers: the federation committed; every survivor committed; every contributor holds the charge.
            #expect(federationBudget.releases == 1 && federationBudget.pending == 0, "\(federationBudget)")
            for party in survivors {
                let budget = try run.budget(ledger: run.ledger(party))
                #expect(budget.releases == 1 && budget.pending == 0, "party \(party): \(budget)")
            }
            for party in summary.partiesContributed {
                let budget = try run.budget(ledger: run.ledger(party))
                #expect(budget.releases + budget.pending >= 1, "party \(party) is in the release but its ledger holds \(budget)")
                #expect(budget.spentEpsilon + budget.heldEpsilon >= federationBudget.spentEpsilon - 1e-9, "party \(party): \(budget)")
            }
        } else {
            // Fewer than t remain: the aggregator aborts, exit 1, naming the missing parties.
            #expect(aggregatorStatus == 1)
            let missing = scenario.victims.map(String.init).joined(separator: ", ")
            #expect(run.aggregator.stderr.contains("aborted in phase \(scenario.phase)"), "\(run.aggregator.stderr)")
            #expect(run.aggregator.stderr.contains("missing parties: \(missing)"), "\(run.aggregator.stderr)")
            #expect(try run.summary() == nil)
            #expect(federationBudget.releases == 0 && federationBudget.pending == 0, "\(federationBudget)")
            // The survivor (stopped while the round aborted) still reads the abort notice. Its
            // ledger may hold a charge (it committed before reading the notice): more, never less.
            for party in startedSurvivors {
                #expect(run.parties[party]!.stderr.contains("aborted in phase \(scenario.phase)"), "party \(party): \(run.parties[party]!.stderr)")
                #expect(run.parties[party]!.stderr.contains("missing parties: \(missing)"), "party \(party): \(run.parties[party]!.stderr)")
            }
        }
        // What happened, for Papers/reliability.md.
        let outcome =
            try run.summary().map { "released, contributors \($0.partiesContributed), dropped \($0.dropped.map { "\($0.party)@\($0.phase)" })" }
            ?? "aborted: " + (run.aggregator.stderr.split(separator: "\n").last { $0.contains("aborted") }.map(String.init) ?? "?")
        let ledgers = ["federation: " + run.ledgerLine(run.aggregatorLedger)] + [1, 2, 3].map { "party \($0): " + run.ledgerLine(run.ledger($0)) }
        print("E2E \(scenario) → \(outcome); ledgers \(ledgers.joined(separator: ", "))")
        // A victim that sent its contribution (or more) still holds at least a pending reservation.
        if Self.contributionLeft(scenario) != .no {
            for victim in scenario.victims {
                let budget = try run.budget(ledger: run.ledger(victim))
                #expect(budget.releases + budget.pending >= 1, "party \(victim): \(budget)")
            }
        }
        passed = true
    }

    enum Sent { case no, maybe, yes }

    /// Whether the victim's contribution was in the aggregator's hands when it died.
    static func contributionLeft(_ scenario: KillCase) -> Sent {
        switch (scenario.mode, scenario.phase) {
        // Secure aggregation: a survivor that signed the survivor set (check) stays a contributor.
        case ("paillier", "decrypt"), ("secagg", "check"), ("secagg", "unmask"): return .yes
        // Sent just before the kill; a contribute-phase drop is excluded from the Paillier sum either way.
        case ("secagg", "contribute"): return .maybe
        default: return .no
        }
    }

    /// Starts the parties and pins the round at `scenario.phase` before killing the victims.
    ///
    /// A party reports a phase after it sent that phase's messages; the aggregator closes a
    /// phase only when every party still in it answered. So the parties step through each
    /// earlier phase one at a time: resumed (SIGCONT), waited for until the aggregator's status
    /// shows its answer, and stopped (SIGSTOP) — except the last of each phase, whose answer
    /// closes the phase and who may run on into the next one (it goes first in the next phase,
    /// where its early answer cannot close anything). Survivors answer before victims, so at
    /// the kill phase a stopped survivor that has not answered still holds the phase open:
    /// the victims are resumed and each is killed (SIGKILL) as soon as it reports the phase,
    /// then the survivors resume. Join is different: the victims join first and die before the
    /// survivors start (a round opens as soon as every party still alive has joined).
    func drive(_ run: RoundRun, _ scenario: KillCase) async throws {
        let phases = roundPhases(scenario.mode)
        let k = try #require(phases.firstIndex(of: scenario.phase))
        let survivors = [1, 2, 3].filter { !scenario.victims.contains($0) }
        if k == 0 {
            for victim in scenario.victims {
                let process = try run.startParty(victim)
                try await process.waitForPhase("join")
                try await run.waitUntilAnswered(victim, "join")
            }
            for victim in scenario.victims { run.parties[victim]!.killHard() }
            if survivors.count >= run.federation.threshold {
                try await run.waitForStatus("the victims gone") { reply in
                    !scenario.victims.contains { reply.connected.contains(UInt32($0)) }
                }
                for party in survivors { try run.startParty(party) }
            }
            return
        }
        let base = survivors + scenario.victims
        for (position, party) in base.enumerated() {
            let process = try run.startParty(party)
            try await process.waitForPhase("join")
            if position < base.count - 1 {
                try await run.waitUntilAnswered(party, "join")
                process.stop()
            }
        }
        var runner = base[base.count - 1]
        for phase in phases[1..<k] {
            let order = [runner] + base.filter { $0 != runner }
            for (position, party) in order.enumerated() {
                let process = run.parties[party]!
                process.resume()
                try await process.waitForPhase(phase)
                if position < order.count - 1 {
                    try await run.waitUntilAnswered(party, phase)
                    process.stop()
                }
            }
            runner = order[order.count - 1]
        }
        for victim in scenario.victims {
            let process = run.parties[victim]!
            process.resume()
            try await run.waitForPhaseOrStandBy(victim, scenario.phase)
            process.killHard()
            // The survivors resume only once the aggregator saw the stream end, so that the
            // death is handled in the phase it happened in.
            try await run.waitForStatus("party \(victim)'s stream ending") { !$0.connected.contains(UInt32(victim)) }
        }
        for party in survivors { run.parties[party]!.resume() }
    }
}
