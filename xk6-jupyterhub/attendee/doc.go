// Package attendee simulates one workshop attendee in a browser: it logs in
// through the hub's form (with its _xsrf), starts a named or default server
// the browser way (spawn, spawn-pending, progress stream) or through the
// REST API with a token it makes itself, follows the OAuth redirects to its
// single-user server, loads the lab page, lists, saves and opens a notebook,
// starts a kernel, talks to it over the kernel websocket (package kernel),
// and stops its server and logs out with its own rights.
//
// Each phase is timed and emitted as a sample (PhaseMetric); failures are
// counted once per phase with their HTTP status. Every session has its own
// cookie jar (net/http/cookiejar, RFC 6265 path rules) and a stable
// User-Agent. Passwords, tokens and cookie values never appear in errors or
// samples. HTTP plumbing (timeouts, retries, 429 handling) is hubapi's
// Transport. Plain Go: no JavaScript runtime is imported here.
package attendee
