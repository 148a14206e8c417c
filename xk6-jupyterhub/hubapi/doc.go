// Package hubapi is hubcap's JupyterHub admin client and the HTTP plumbing the
// traffic module shares: a Transport with per-attempt timeouts, bounded
// retries, 429/Retry-After handling, typed errors (*APIError, which names the
// missing scope of a 403) and samples for every request; the REST calls a load
// test needs (users, servers, progress stream, tokens, /hub/metrics); the
// database shape (U, S, R, J) computed from the user listing; and a Tracker so
// that Cleanup removes only what the client created.
//
// It works against JupyterHub 4.1 through 6.x. It is plain Go: no JavaScript
// runtime is imported here.
package hubapi
