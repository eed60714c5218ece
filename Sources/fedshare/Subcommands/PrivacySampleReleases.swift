import ArgumentParser
import Attention
import DifferentialPrivacy
import Federation
import Foundation
import Manifest

extension Privacy {
    /// `fedshare privacy sample-releases`: many noisy releases of one federation's sum, for an
    /// empirical privacy audit (Papers/scripts/privacy_audit.py).
    struct SampleReleases: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sample-releases",
            abstract: "Print many noisy releases of a federation's sum, through the round's own noise path.",
            discussion: """
                For empirical privacy audits. Computes each party's local attention once, then, for \
                every release, has each contributing party draw a fresh noise share and encode its \
                contribution exactly as a round does (RoundPlan.noiseShare and RoundPlan.encode, the \
                production CSPRNG), and prints the sum: what the aggregator opens, on the fixed-point \
                grid. Encryption and masking are left out: they open exactly this sum (the round \
                engine tests check that both modes agree with it). Output: one line `clear V…` (the \
                noise-free sum), one line `event …` (what each ledger would charge, with its \
                certified ε), then one line `release V…` per release; values are integers in grid \
                units. Every release spends privacy on the data given: run it on audit data only.
                """)

        @Option(help: "The federation manifest.") var manifest: String
        @Option(help: "A party's data file, in the order of the manifest's party ids (repeatable).") var data: [String] = []
        @Option(help: "Parties whose shares are in each release (comma-separated ids; default: all). The others count as dropped before contributing.")
        var contributors: String?
        @Option(help: "Number of releases.") var count: Int = 1000

        func validate() throws {
            guard count >= 0, count <= 10_000_000 else { throw ValidationError("--count must be between 0 and 10000000") }
            guard !data.isEmpty else { throw ValidationError("give --data once per party of the manifest") }
        }

        func run() throws {
            let loaded = try FederationManifest.load(from: URL(fileURLWithPath: manifest))
            let parties = loaded.parties.sorted()
            guard data.count == parties.count else {
                throw CLIError("--data: \(data.count) files for the manifest's \(parties.count) parties (\(parties.map(String.init).joined(separator: ", ")))")
            }
            var chosen = parties
            if let contributors {
                var ids: [Int] = []
                for field in contributors.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let id = Int(field.trimmingCharacters(in: .whitespaces)), parties.contains(id), !ids.contains(id) else {
                        throw CLIError(
                            "--contributors \(contributors): '\(field)' is not a party of the manifest (parties \(parties.map(String.init).joined(separator: ", "))), or is repeated"
                        )
                    }
                    ids.append(id)
                }
                chosen = ids.sorted()
            }
            let plan = try RoundPlan(manifest: loaded)
            guard chosen.count >= plan.threshold else {
                throw CLIError("--contributors: \(chosen.count) parties are below the threshold \(plan.threshold); no round releases such a sum")
            }
            var local: [AttentionResult] = []
            for party in chosen {
                let file = data[parties.firstIndex(of: party)!]
                local.append(try LocalAttention.compute(manifest: loaded, dataURL: URL(fileURLWithPath: file)))
            }
            func emit(_ label: String, _ values: [Int64]) {
                print(label + " " + values.map(String.init).joined(separator: " "))
            }
            var generator = BufferedSecureRandom()
            let zero = [Int64](repeating: 0, count: plan.valueCount)
            var clear = zero
            for contribution in local {
                let encoded = try plan.encode(contribution, noise: zero, parties: parties.count)
                for index in clear.indices { clear[index] &+= encoded[index] }
            }
            emit("clear", clear)
            let event = plan.event
            print(
                "event mechanism=\(event.mechanism.rawValue) noise=\(event.noise) sensitivity=\(event.sensitivity) "
                    + "dimension=\(event.dimension) shares=\(event.shares) epsilon=\(plan.epsilon) delta=\(plan.delta) "
                    + "accountant=\(plan.accountant.rawValue) contributors=\(chosen.count)")
            for _ in 0..<count {
                var sum = zero
                for contribution in local {
                    let noise = try plan.noiseShare(parties: parties.count, noNoise: false, using: &generator)
                    let encoded = try plan.encode(contribution, noise: noise, parties: parties.count)
                    for index in sum.indices { sum[index] &+= encoded[index] }
                }
                emit("release", sum)
            }
        }
    }
}
