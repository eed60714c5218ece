import Foundation
import Testing
import _TestSupport

@testable import Attention

@Suite("Allocation and labelled matrices")
struct AllocationTests {
    let matrix = LabelledMatrix(
        corner: "group", rowLabels: ["g1", "g2"], columnLabels: ["x", "y", "z"],
        values: [1, 2, 1, 0, 3, 3])

    @Test("hand-checked shares and allocations")
    func handChecked() throws {
        // Total 10: anchor shares x 0.1, y 0.5, z 0.4; group shares g1 0.4, g2 0.6.
        let allocation = try Allocation(
            attention: matrix,
            capacities: [
                .init(node: "y", capacity: 200), .init(node: "g2", capacity: 50), .init(node: "x", kind: .anchor, capacity: 10),
            ])
        #expect(allocation.normalised.values == [0.1, 0.2, 0.1, 0, 0.3, 0.3])
        #expect(zip(allocation.anchorShares, [0.1, 0.5, 0.4]).allSatisfy { abs($0 - $1) < 1e-15 })
        #expect(zip(allocation.groupShares, [0.4, 0.6]).allSatisfy { abs($0 - $1) < 1e-15 })
        #expect(allocation.entries.map(\.kind) == [.anchor, .group, .anchor])
        #expect(abs(allocation.entries[0].allocation - 100) < 1e-12)
        #expect(abs(allocation.entries[1].allocation - 30) < 1e-12)
        #expect(abs(allocation.entries[2].allocation - 1) < 1e-12)
        #expect(allocation.csv().hasPrefix("node,kind,capacity,share,allocation\ny,anchor,200.0,0.5,100.0\n"))
    }

    @Test("capacity files: parsing and every malformed case")
    func capacityFiles() throws {
        let folder = try TemporaryFolder()
        let good = try folder.write("cap.csv", "node,kind,capacity\nx,anchor,5\ng1,,7.5\n")
        let capacities = try Allocation.readCapacities(from: good)
        #expect(capacities == [.init(node: "x", kind: .anchor, capacity: 5), .init(node: "g1", capacity: 7.5)])
        let bad: [(String, String)] = [
            ("", "empty"),
            ("name,size\nx,1\n", "expected the header"),
            ("node,capacity\n", "no capacities"),
            ("node,capacity\nx\n", "line 2"),
            ("node,capacity\nx,lots\n", "line 2, column 'capacity'"),
            ("node,capacity\nx,-1\n", "non-negative"),
            ("node,capacity\nx,inf\n", "not a finite number"),
            ("node,kind,capacity\nx,item,1\n", "'anchor' or 'group'"),
            ("node,capacity\n,1\n", "empty"),
        ]
        for (contents, phrase) in bad {
            let url = try folder.write("bad.csv", contents)
            #expect { try Allocation.readCapacities(from: url) } throws: { "\($0)".contains("bad.csv") && "\($0)".contains(phrase) }
        }
    }

    @Test("unknown, ambiguous and duplicate nodes; unusable matrices")
    func badAllocations() throws {
        #expect { try Allocation(attention: matrix, capacities: [.init(node: "w", capacity: 1)]) } throws: { "\($0)".contains("'w'") }
        #expect { try Allocation(attention: matrix, capacities: [.init(node: "x", kind: .group, capacity: 1)]) } throws: { "\($0)".contains("known group") }
        #expect { try Allocation(attention: matrix, capacities: [.init(node: "x", capacity: 1), .init(node: "x", capacity: 2)]) } throws: {
            "\($0)".contains("twice")
        }
        let ambiguous = LabelledMatrix(corner: "group", rowLabels: ["x"], columnLabels: ["x"], values: [1])
        #expect { try Allocation(attention: ambiguous, capacities: [.init(node: "x", capacity: 1)]) } throws: { "\($0)".contains("both") }
        #expect(try Allocation(attention: ambiguous, capacities: [.init(node: "x", kind: .group, capacity: 1)]).entries[0].kind == .group)
        let negative = LabelledMatrix(corner: "group", rowLabels: ["a"], columnLabels: ["x", "y"], values: [1, -0.5])
        #expect { try Allocation(attention: negative, capacities: [.init(node: "x", capacity: 1)]) } throws: { "\($0)".contains("non-negative") }
        let zero = LabelledMatrix(corner: "group", rowLabels: ["a"], columnLabels: ["x"], values: [0])
        #expect { try Allocation(attention: zero, capacities: [.init(node: "x", capacity: 1)]) } throws: { "\($0)".contains("sums to 0") }
    }

    @Test("labelled matrices and counts round-trip through CSV, odd labels included")
    func roundTrip() throws {
        let folder = try TemporaryFolder()
        let result = AttentionResult(
            groups: ["plain", "with, comma", "with \"quotes\""], anchors: ["a", " b "],
            matrix: [0.1, 1e-300, 123456.789, 0, 1.0 / 3, 2], counts: [1, 0, 7])
        let attention = try folder.write("A.csv", result.labelled.csv())
        let counts = try folder.write("C.csv", result.countsCSV())
        let back = try AttentionResult.read(attention: attention, counts: counts)
        #expect(back == result)
        let bad: [(String, String)] = [
            ("", "empty"), ("group\n", "at least one column"), ("group,a\n", "no data rows"),
            ("group,a\nx,1,2\n", "line 2"), ("group,a\nx,oops\n", "line 2, column 'a'"),
            ("group,a,a\nx,1,2\n", "twice"), ("group,a\nx,1\nx,2\n", "twice"),
        ]
        for (contents, phrase) in bad {
            let url = try folder.write("bad.csv", contents)
            #expect { try LabelledMatrix.read(from: url) } throws: { "\($0)".contains("bad.csv") && "\($0)".contains(phrase) }
        }
        let badCounts = try folder.write("badcounts.csv", "group,count\nplain,x\n")
        #expect { try AttentionResult.read(attention: attention, counts: badCounts) } throws: { "\($0)".contains("badcounts.csv line 2") }
    }
}
