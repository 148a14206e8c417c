// Package fleet is a Go stand-in for thousands of jupyter_server single-user
// servers behind a real JupyterHub.
//
// A Python spawner (SpawnerPython, configured with SpawnerConfig) registers
// each server the Hub starts with the fleet's control API under /_fleet/;
// the Hub and its proxy then send that server's traffic (/user/<u>/<s>/...)
// to the fleet, which dispatches by the longest registered prefix and
// answers as jupyter_server 2.x with JupyterHub's single-user extension
// would: the Hub's OAuth login and token checks (against the real Hub),
// contents, sessions, kernels, the kernel websocket (v1 binary subprotocol
// and legacy JSON) with a tiny evaluator for cell output (package pyeval),
// and a /lab page of configurable size.
//
// Everything is bounded: request bodies, websocket messages, kernels per
// server, cached identities, pending OAuth states, and the number of
// registered servers. A registered server costs a few hundred bytes until
// it is used.
package fleet
