// Package testkit holds the helpers that several packages' tests share:
// golden files rewritten with -update (Golden) and a bytes.Buffer safe for
// concurrent writers (Buffer). Subpackage hubsqlite builds JupyterHub
// databases on SQLite for tests.
//
// Only _test.go files import testkit; it registers the -update flag of
// every test binary that does.
package testkit
