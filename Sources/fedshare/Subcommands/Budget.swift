import ArgumentParser
import DifferentialPrivacy
import Foundation
import Manifest

/// `fedshare budget`: the privacy ledger, for people and programs.
struct Budget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, check and manage the privacy budget recorded in a ledger.",
        discussion: """
            The ledger is an append-only, hash-chained SQLite file. Its path is --ledger, else \
            $FEDSHARE_LEDGER, else ./fedshare-ledger.sqlite. Only --set-cap and --charge create a \
            missing ledger; every other use reads an existing one (read-only, except --cancel) and \
            exits non-zero with "no ledger at PATH" when there is none. With no action, prints each \
            dataset's cap, spent ε and δ, remaining ε, releases, last release and the accountant used; \
            with --by-analyst, each analyst's spending per dataset instead. --analyst NAME records \
            (--charge) or previews (--preview) a release for an analyst, checked against that \
            analyst's cap too, or sets the analyst's cap (--set-cap). Exits non-zero when a charge \
            is refused, a preview exceeds a cap, or --verify finds a broken chain.
            """)

    @Option(help: ArgumentHelp("The ledger file.", valueName: "FILE")) var ledger: String?
    @OptionGroup var output: JSONOutputOptions
    @Flag(help: "List every ledger entry.") var history = false
    @Flag(help: "Check the hash chain; name the first bad entry.") var verify = false
    @Flag(help: "Say what a release would cost and whether the cap allows it.") var preview = false
    @Flag(name: .customLong("by-analyst"), help: "Show each analyst's spending per dataset (with --dataset: on that one).") var byAnalyst = false
    @Option(
        help: ArgumentHelp(
            "The analyst a --charge or --preview is for, or whose cap --set-cap sets (instead of the dataset's).", valueName: "NAME"))
    var analyst: String?
    @Option(name: .customLong("set-cap"), help: ArgumentHelp("Set the cap of DATASET (with --epsilon, --delta).", valueName: "DATASET")) var setCap: String?
    @Option(help: ArgumentHelp("Record a release on DATASET: reserve then commit (refused above the cap).", valueName: "DATASET")) var charge: String?
    @Option(help: ArgumentHelp("Cancel pending reservation ID (only if nothing was released under it).", valueName: "ID")) var cancel: Int64?
    @Option(help: ArgumentHelp("The dataset for --preview (default: the only one) or --by-analyst.", valueName: "DATASET")) var dataset: String?
    @Option(help: "Cap ε (with --set-cap).") var epsilon: Double?
    @Option(help: "Cap δ (with --set-cap).") var delta: Double?
    @Option(help: "gaussian, laplace, discrete_gaussian or discrete_laplace.") var mechanism: String?
    @Option(help: "σ or the Laplace scale b.") var noise: Double?
    @Option(help: "L2 (Gaussian) or L1 (Laplace) sensitivity.") var sensitivity: Double?
    @Option(help: "Number of releases.") var count: Int = 1
    @Option(help: "Coordinates the noise is added to.") var dimension: Int = 1
    @Option(help: "Noise shares summed (distributed discrete Gaussian).") var shares: Int = 1
    @Option(help: "add_or_remove_one or replace_one.") var relation: String = "add_or_remove_one"
    @Option(help: "The privacy unit.") var unit: String = "record"
    @Option(help: "The party recording the charge.") var party: String = ""
    @Option(help: "The round of the charge.") var round: String = ""
    @Option(help: .hidden) var pauseMilliseconds: Int = 0

    var ledgerPath: String {
        ledger ?? ProcessInfo.processInfo.environment["FEDSHARE_LEDGER"] ?? "fedshare-ledger.sqlite"
    }

    func validate() throws {
        let actions = [history, verify, preview, setCap != nil, charge != nil, cancel != nil, byAnalyst].filter { $0 }.count
        if actions > 1 { throw ValidationError("choose one of --history, --verify, --preview, --set-cap, --charge, --cancel, --by-analyst") }
        if let analyst {
            guard preview || setCap != nil || charge != nil else { throw ValidationError("--analyst goes with --charge, --preview or --set-cap") }
            if let problem = FederationManifest.AnalystsSection.problem(withName: analyst) { throw ValidationError("--analyst: \(problem)") }
        }
        if setCap != nil, epsilon == nil || delta == nil { throw ValidationError("--set-cap needs --epsilon and --delta") }
        if preview || charge != nil, mechanism == nil || noise == nil || sensitivity == nil {
            throw ValidationError("--preview and --charge need --mechanism, --noise and --sensitivity")
        }
    }

    /// Spending may start a ledger; settling needs an existing one; everything else only reads,
    /// so an auditor's mistyped path is an error rather than a fresh, empty, "OK" ledger.
    var access: PrivacyLedger.Access {
        if setCap != nil || charge != nil { return .create }
        return cancel != nil ? .existing : .readOnly
    }

    func run() throws {
        let ledger = try PrivacyLedger(path: ledgerPath, access: access)
        if let name = setCap, let epsilon, let delta {
            if let analyst {
                try ledger.setAnalystCap(dataset: name, analyst: analyst, epsilon: epsilon, delta: delta)
                if output.json {
                    try printJSON(["dataset": name, "analyst": analyst, "epsilon": "\(epsilon)", "delta": "\(delta)"])
                } else {
                    print("cap of analyst \(analyst) on '\(name)' set to ε = \(epsilon), δ = \(delta)")
                }
            } else {
                try ledger.setCap(dataset: name, epsilon: epsilon, delta: delta)
                if output.json {
                    try printJSON(["dataset": name, "epsilon": "\(epsilon)", "delta": "\(delta)"])
                } else {
                    print("cap of '\(name)' set to ε = \(epsilon), δ = \(delta)")
                }
            }
        } else if let name = charge {
            let reservation = try ledger.reserve(try makeCharge(dataset: name))
            if pauseMilliseconds > 0 { usleep(UInt32(pauseMilliseconds) * 1000) }
            try ledger.commit(reservation)
            if output.json {
                try printJSON(
                    ChargeOutput(
                        reservation: reservation.id, dataset: name, after: reservation.spendAfter, analyst: analyst,
                        analystAfter: reservation.analystSpendAfter))
            } else {
                let analystPart =
                    analyst.map { name in
                        " for analyst \(name)"
                            + (reservation.analystSpendAfter.map { "; analyst \(name) spent ε = \($0.epsilon) at δ = \($0.delta)" } ?? "")
                    } ?? ""
                // Unbuffered, so a process killed right after still reported what it committed.
                let line =
                    "committed reservation \(reservation.id) on '\(name)': spent ε = \(reservation.spendAfter.epsilon) at δ = \(reservation.spendAfter.delta)\(analystPart)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        } else if let id = cancel {
            try ledger.cancel(reservationID: id)
            print("cancelled reservation \(id)")
        } else if verify {
            let (entries, head) = try ledger.verify()
            if output.json {
                try printJSON(VerifyOutput(ok: true, entries: entries, head: head))
            } else {
                print("ledger OK: \(entries) entries, head \(head)")
            }
        } else if history {
            let entries = try ledger.history()
            if output.json { try printJSON(entries) } else { printHistory(entries) }
        } else if preview {
            let name = try previewDataset(ledger)
            let result = try ledger.preview(try makeCharge(dataset: name))
            if output.json {
                try printJSON(result)
            } else {
                let cap = result.capEpsilon.map { "cap ε = \($0), δ = \(result.capDelta ?? 0)" } ?? "no cap set"
                var text =
                    "'\(name)': this release costs ε = \(result.charge.epsilon) (\(result.charge.accountant.rawValue)); "
                    + "with what is held: ε = \(result.after.epsilon) at δ = \(result.after.delta) (\(result.after.accountant.rawValue)); "
                    + "\(cap): \(result.datasetAllowed ? "allowed" : "REFUSED")"
                if let analyst = result.analyst {
                    let after = result.analystAfter.map { "ε = \($0.epsilon) at δ = \($0.delta)" } ?? "-"
                    let analystCap =
                        result.analystCapEpsilon.map {
                            "cap ε = \($0), δ = \(result.analystCapDelta ?? 0): \(result.analystAllowed == true ? "allowed" : "REFUSED")"
                        }
                        ?? "no cap set"
                    text += "; analyst \(analyst) with what is held: \(after); \(analystCap)"
                }
                print(text)
            }
            if !result.allowed { throw ExitCode(1) }
        } else if byAnalyst {
            let budgets = try ledger.analystBudgets(dataset: dataset)
            if output.json { try printJSON(budgets) } else { printAnalystBudgets(budgets) }
        } else {
            let budgets = try ledger.budgets()
            if output.json { try printJSON(budgets) } else { printBudgets(budgets) }
        }
    }

    struct ChargeOutput: Encodable {
        let reservation: Int64
        let dataset: String
        let after: PrivacySpend
        let analyst: String?
        let analystAfter: PrivacySpend?
    }
    struct VerifyOutput: Encodable {
        let ok: Bool
        let entries: Int
        let head: String
    }

    func makeCharge(dataset: String) throws -> PrivacyCharge {
        guard let mechanism, let noise, let sensitivity else { throw CLIError("missing --mechanism, --noise or --sensitivity") }
        let event = MechanismEvent(
            mechanism: try MechanismKind(parsing: mechanism), noise: noise, sensitivity: sensitivity,
            dimension: dimension, shares: shares, count: count)
        return PrivacyCharge(
            dataset: dataset, event: event, relation: try NeighbouringRelation(parsing: relation),
            unit: unit, party: party, round: round, analyst: analyst ?? "")
    }

    func previewDataset(_ ledger: PrivacyLedger) throws -> String {
        if let dataset { return dataset }
        let names = try ledger.budgets().map(\.dataset)
        guard names.count == 1 else {
            throw CLIError("\(ledgerPath): \(names.isEmpty ? "no datasets" : "several datasets"); name one with --dataset")
        }
        return names[0]
    }

    func printBudgets(_ budgets: [DatasetBudget]) {
        if budgets.isEmpty {
            print("\(ledgerPath): no datasets")
            return
        }
        let header = ["dataset", "cap ε", "cap δ", "spent ε", "held ε", "remaining ε", "releases", "pending", "last release", "accountant"]
        let rows = budgets.map { b in
            [
                b.dataset, b.capEpsilon.map(format) ?? "-", b.capDelta.map { "\($0)" } ?? "-", format(b.spentEpsilon),
                format(b.heldEpsilon), b.remainingEpsilon.map(format) ?? "-", "\(b.releases)", "\(b.pending)",
                b.lastRelease ?? "-", b.accountant?.rawValue ?? "-",
            ]
        }
        printTable(header, rows)
    }

    func printAnalystBudgets(_ budgets: [AnalystBudget]) {
        if budgets.isEmpty {
            print("\(ledgerPath): no analysts\(dataset.map { " on '\($0)'" } ?? "") (no charge or cap names one)")
            return
        }
        let header = ["dataset", "analyst", "spent ε", "δ", "cap", "held ε", "releases", "pending", "last release"]
        let rows = budgets.map { b in
            [
                b.dataset, b.analyst, format(b.spentEpsilon), "\(b.delta)",
                b.capEpsilon.map { "ε = \(format($0)), δ = \(b.capDelta ?? 0)" } ?? "-", format(b.heldEpsilon), "\(b.releases)",
                "\(b.pending)", b.lastRelease ?? "-",
            ]
        }
        printTable(header, rows)
    }

    func printHistory(_ entries: [LedgerEntry]) {
        let header = ["id", "kind", "dataset", "details", "time", "hash"]
        let rows = entries.map { e -> [String] in
            let details: String
            switch e.kind {
            case .cap: details = "ε = \(e.capEpsilon ?? 0), δ = \(e.capDelta ?? 0)" + (e.analyst.map { " for analyst \($0)" } ?? "")
            case .reserve:
                details =
                    "\(e.mechanism ?? "?") noise \(e.noise ?? 0) Δ \(e.sensitivity ?? 0) ×\(e.count ?? 0) d \(e.dimension ?? 0)"
                    + (e.party.map { $0.isEmpty ? "" : " party \($0)" } ?? "") + (e.round.map { $0.isEmpty ? "" : " round \($0)" } ?? "")
                    + (e.analyst.map { " analyst \($0)" } ?? "")
            case .commit, .cancel: details = "reservation \(e.reservation ?? 0)"
            }
            return ["\(e.id)", e.kind.rawValue, e.dataset, details, e.time, String(e.hash.prefix(12))]
        }
        printTable(header, rows)
    }

    func format(_ value: Double) -> String { value.isFinite ? String(format: "%.6g", value) : "∞" }

    func printTable(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }
}
