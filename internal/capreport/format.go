package capreport

import "github.com/hubcap-dev/hubcap/reports"

// The report's own number formats, so the assembled text matches the page.
var (
	fmtBytes = reports.FormatBytes
	fmtNum   = reports.FormatCount
	fmtMs    = reports.FormatMs
	sig3     = reports.FormatSig3
)
