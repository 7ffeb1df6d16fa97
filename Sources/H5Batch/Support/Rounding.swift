/// Whole-unit arithmetic on counts (rows, chunks, bytes), in one place.
extension Int {
    /// How many `unit`s (positive) it takes to hold `self` items: `self / unit` rounded up, 0
    /// for none; written so that it cannot overflow near `Int.max`.
    func units(of unit: Int) -> Int { self <= 0 ? 0 : (self - 1) / unit + 1 }

    /// `self` rounded up to a whole number of `unit`s.
    func roundedUp(toMultipleOf unit: Int) -> Int { units(of: unit) * unit }
}
