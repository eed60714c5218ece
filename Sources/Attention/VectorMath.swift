// The exponential, vectorised: numpy and libm evaluate exp one value at a time (on machines
// without AVX-512), which would dominate the cost of attention after the matrix product.

/// e^x for each lane, accurate to a few units in the last place for x in [-708, 709]; lanes
/// below -708 (whose exact results are subnormal, under 3.1e-308) give 0, and −∞ gives 0.
///
/// Cody–Waite reduction x = k·ln 2 + r with |r| ≤ ln 2 / 2, a degree-12 Taylor polynomial for
/// e^r (truncation error below 2e-16 relative), and 2^k written straight into the exponent
/// bits. The rounding shift (1.5·2^52) turns k into integer bits without a float-to-integer
/// conversion, which SSE2 lacks for 64-bit lanes.
@inline(__always)
func vectorExp(_ x: SIMD4<Double>) -> SIMD4<Double> {
    let tooSmall = x .< -708.0
    var clamped = x.replacing(with: -708.0, where: tooSmall)
    clamped.replace(with: 709.0, where: clamped .> 709.0)
    let shifter = SIMD4<Double>(repeating: 0x1.8p52)
    let rounded = clamped * 1.4426950408889634 + shifter
    let k = rounded - shifter
    let r = (clamped - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33
    var p = SIMD4<Double>(repeating: 1.0 / 479_001_600)
    p = p * r + 1.0 / 39_916_800
    p = p * r + 1.0 / 3_628_800
    p = p * r + 1.0 / 362_880
    p = p * r + 1.0 / 40_320
    p = p * r + 1.0 / 5_040
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    let kBits = unsafeBitCast(rounded, to: SIMD4<UInt64>.self) &- unsafeBitCast(shifter, to: SIMD4<UInt64>.self)
    let bits = unsafeBitCast(p, to: SIMD4<UInt64>.self) &+ (kBits &<< 52)
    return unsafeBitCast(bits, to: SIMD4<Double>.self).replacing(with: 0, where: tooSmall)
}

/// e^x of one value through the vector routine (for tests and tails).
func vectorExp(_ x: Double) -> Double { vectorExp(SIMD4<Double>(repeating: x))[0] }
