package reports

// Formatting shared with the packages that build report inputs, so every
// number in a report reads the same way.

// FormatBytes prints bytes with a binary unit and about three significant
// digits ("2.39 GiB", "612 MiB"); "–" for NaN or ±Inf.
func FormatBytes(b float64) string { return fmtBytes(b) }

// FormatCount prints a count with thousands separators; fractions keep
// three significant digits; "–" for NaN or ±Inf.
func FormatCount(v float64) string { return fmtCount(v) }

// FormatMs prints milliseconds ("850 ms", "12.3 s", "4.20 min").
func FormatMs(ms float64) string { return fmtMs(ms) }

// FormatSig3 prints v with about three significant digits.
func FormatSig3(v float64) string { return sig3(v) }
