// Package archtest holds tests of the module's dependency rules: the
// traffic, model, report and hub packages are plain Go without the
// JavaScript engine, the JS binding stays a thin layer, and nothing links
// k6 (AGPL). It has no production code.
package archtest
