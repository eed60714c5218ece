import ArgumentParser
import Attention
import Foundation

/// `fedshare allocate`: capacities shared out by attention.
struct Allocate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Allocate capacities in proportion to attention.",
        discussion: """
            Normalises the attention matrix (A / ΣΣA), takes each anchor's share (column sums) and \
            each group's share (row sums), and gives every node in the capacities file its \
            capacity × share. Capacities file: CSV with the header 'node,capacity' (or \
            'node,kind,capacity' when a name is both an anchor and a group, kind = anchor|group). \
            Output: CSV 'node,kind,capacity,share,allocation'.
            """)

    @Option(name: .long, help: "The attention matrix (labelled CSV from `fedshare attention` or a round).")
    var attention: String

    @Option(name: .long, help: "The capacities (CSV: node,capacity).")
    var capacity: String

    @Option(name: .long, help: "Where to write the allocation (CSV).")
    var out: String

    @Option(name: .long, help: "Also write the normalised matrix A / ΣΣA (labelled CSV).")
    var normalised: String?

    @Option(name: .long, help: "Also write every anchor's and group's share (CSV: node,kind,share).")
    var shares: String?

    @OptionGroup
    var output: JSONOutputOptions

    func run() async throws {
        let matrix = try LabelledMatrix.read(from: URL(fileURLWithPath: attention))
        let capacityURL = URL(fileURLWithPath: capacity)
        let capacities = try Allocation.readCapacities(from: capacityURL)
        let allocation = try Allocation(attention: matrix, capacities: capacities, source: capacityURL.lastPathComponent)
        try writeAtomically(Data(allocation.csv().utf8), to: URL(fileURLWithPath: out))
        if let normalised { try writeAtomically(Data(allocation.normalised.csv().utf8), to: URL(fileURLWithPath: normalised)) }
        if let shares { try writeAtomically(Data(allocation.sharesCSV().utf8), to: URL(fileURLWithPath: shares)) }
        if output.json {
            try printJSON(
                Summary(
                    out: out, entries: allocation.entries,
                    anchorShares: Dictionary(uniqueKeysWithValues: zip(matrix.columnLabels, allocation.anchorShares)),
                    groupShares: Dictionary(uniqueKeysWithValues: zip(matrix.rowLabels, allocation.groupShares))))
        } else {
            for entry in allocation.entries {
                print(
                    "\(entry.node) (\(entry.kind.rawValue)): share \(String(format: "%.4f", entry.share)) × capacity \(entry.capacity) = \(String(format: "%.4f", entry.allocation))"
                )
            }
        }
    }

    struct Summary: Encodable {
        let out: String
        let entries: [Allocation.Entry]
        let anchorShares: [String: Double]
        let groupShares: [String: Double]
    }
}
