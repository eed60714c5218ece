// An R*Tree stores 32-bit floats. Every box it holds is rounded outward (low ends down, high
// ends up) from the exact double or integer bounds, and every query box is widened likewise,
// so the R*Tree can only return too many candidates, never too few; each candidate is then
// checked exactly against the stored doubles and integers.

enum OutwardRounding {
    /// The largest float ≤ `value`.
    static func floatBelow(_ value: Double) -> Float {
        let rounded = Float(value)
        return Double(rounded) > value ? rounded.nextDown : rounded
    }

    /// The smallest float ≥ `value`.
    static func floatAbove(_ value: Double) -> Float {
        let rounded = Float(value)
        return Double(rounded) < value ? rounded.nextUp : rounded
    }

    /// The largest double ≤ `value` (Int64 beyond 2⁵³ does not fit a double exactly).
    static func doubleBelow(_ value: Int64) -> Double {
        let rounded = Double(value)
        return compare(rounded, value) > 0 ? rounded.nextDown : rounded
    }

    /// The smallest double ≥ `value`.
    static func doubleAbove(_ value: Int64) -> Double {
        let rounded = Double(value)
        return compare(rounded, value) < 0 ? rounded.nextUp : rounded
    }

    static func floatBelow(_ value: Int64) -> Float { floatBelow(doubleBelow(value)) }
    static func floatAbove(_ value: Int64) -> Float { floatAbove(doubleAbove(value)) }

    /// The sign of `double - integer`, exactly (`double` is a rounded Int64, so integral).
    private static func compare(_ double: Double, _ integer: Int64) -> Int {
        if double >= 0x1p63 { return 1 }
        if double < -0x1p63 { return -1 }
        let truncated = Int64(double)
        return truncated == integer ? 0 : (truncated > integer ? 1 : -1)
    }
}
