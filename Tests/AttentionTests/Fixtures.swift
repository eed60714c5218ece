import Foundation
import Primitives

@testable import Attention

/// An independent float64 reference: scores computed literally as ((xW)Kᵀ)·scale + b with plain
/// loops (no BLAS, no folding of W and K), softmax with libm's exp.
func referenceAttention(model: AttentionModel, features: [Double], groups: [Int]) -> (matrix: [Double], counts: [Int]) {
    let d = model.featureDimension
    let h = model.embeddingDimension
    let m = model.anchorCount
    var matrix = [Double](repeating: 0, count: model.groups.count * m)
    var counts = [Int](repeating: 0, count: model.groups.count)
    for (r, g) in groups.enumerated() {
        let x = Array(features[r * d..<(r + 1) * d])
        var y = [Double](repeating: 0, count: h)
        if let w = model.encoder {
            for e in 0..<h { for k in 0..<d { y[e] += x[k] * w[k * h + e] } }
        } else {
            y = x
        }
        var s = [Double](repeating: 0, count: m)
        for a in 0..<m {
            var dot = 0.0
            for e in 0..<h { dot += y[e] * model.anchors[a * h + e] }
            s[a] = dot * model.scale + model.bias[a]
        }
        let top = s.max()!
        let e = s.map { Foundation.exp($0 - top) }
        let total = e.reduce(0, +)
        for a in 0..<m { matrix[g * m + a] += e[a] / total }
        counts[g] += 1
    }
    return (matrix, counts)
}

/// A random model and data set.
func randomCase(
    records: Int, d: Int, h: Int, m: Int, g: Int, encoder: Bool, seed: UInt64,
    spread: Double = 1
) throws -> (model: AttentionModel, features: [Double], groups: [Int]) {
    var random = SeededRandom(seed: seed)
    let anchors = (0..<(m * h)).map { _ in Double.random(in: -1...1, using: &random) }
    let w: [Double]? = encoder ? (0..<(d * h)).map { _ in Double.random(in: -1...1, using: &random) } : nil
    let bias = (0..<m).map { _ in Double.random(in: -0.5...0.5, using: &random) }
    let model = try AttentionModel(
        anchorNames: (0..<m).map { "a\($0)" }, anchors: anchors, embeddingDimension: h,
        encoder: w, bias: bias, groups: (0..<g).map { "g\($0)" })
    let features = (0..<(records * model.featureDimension)).map { _ in Double.random(in: -spread...spread, using: &random) }
    let groups = (0..<records).map { _ in Int.random(in: 0..<g, using: &random) }
    return (model, features, groups)
}

func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-300) }.max() ?? 0
}

/// The bytes of a .npy file (version 1 or 2) holding `values` with `shape`.
func npyBytes(_ values: [Double], shape: [Int], descr: String = "<f8", fortran: Bool = false, version: UInt8 = 1) -> [UInt8] {
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
    let prefix = version == 1 ? 10 : 12
    while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let length = header.utf8.count
    if version == 1 {
        bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
    } else {
        bytes += [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)]
    }
    bytes += Array(header.utf8)
    for value in values {
        switch descr {
        case "<f8": withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
        case ">f8": withUnsafeBytes(of: value.bitPattern.bigEndian) { bytes += $0 }
        case "<f4": withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { bytes += $0 }
        case ">f4": withUnsafeBytes(of: Float(value).bitPattern.bigEndian) { bytes += $0 }
        default: withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 }
        }
    }
    return bytes
}
