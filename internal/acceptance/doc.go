// Package acceptance holds end-to-end tests that run hubcap's parts
// together against real JupyterHub releases: the harness, the fleet, the
// traffic module. It has no production code.
package acceptance
