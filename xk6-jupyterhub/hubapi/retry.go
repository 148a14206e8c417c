package hubapi

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RetryPolicy bounds retries. The zero value means the defaults below.
type RetryPolicy struct {
	// MaxRetries bounds retries after 5xx answers (not 501) and connection errors.
	// Default 3; negative disables.
	MaxRetries int
	// MaxThrottled bounds how many 429 answers one request waits out before
	// giving up with ErrThrottled. Default 0: no count bound — a request keeps
	// honouring Retry-After while the hub answers 429, within ThrottleBudget and
	// its context's deadline (an attendee behind concurrent_spawn_limit in a
	// large workshop is throttled far more often than a handful of times).
	// Negative: never wait, return the 429.
	MaxThrottled int
	// ThrottleBudget bounds the total time one request spends waiting out 429
	// answers (default 15 min). A wait that would pass the budget, or the
	// request context's deadline (an attendee's phase timeout), is not started:
	// the 429 is returned as ErrThrottled at once, saying why.
	ThrottleBudget time.Duration
	// BaseBackoff is the first backoff (default 250 ms), doubled per attempt.
	BaseBackoff time.Duration
	// MaxBackoff caps the exponential backoff (default 5 s).
	MaxBackoff time.Duration
	// MaxWait caps one wait for a 429, whatever Retry-After says (default 60 s,
	// the top of the hub's default spawn_throttle_retry_range (30, 60)).
	MaxWait time.Duration
}

// withDefaults fills zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = 3
	}
	if p.ThrottleBudget <= 0 {
		p.ThrottleBudget = 15 * time.Minute
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = 250 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 5 * time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 60 * time.Second
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	return p
}

// ThrottleGiveUp says whether a request answered 429 for the (throttled+1)-th
// time stops waiting instead of waiting next more: reason is empty to go on
// waiting. waited is the time already spent waiting out this request's 429s;
// remaining is the time left before the request context's deadline
// (hasDeadline false: none). Pure: the caller measures remaining.
func ThrottleGiveUp(p RetryPolicy, throttled int, waited, next, remaining time.Duration, hasDeadline bool) (reason string) {
	p = p.withDefaults()
	switch {
	case p.MaxThrottled < 0:
		return "429 answers are not waited out (RetryPolicy.MaxThrottled < 0)"
	case p.MaxThrottled > 0 && throttled >= p.MaxThrottled:
		return fmt.Sprintf("gave up after %d waited-out 429 answers (RetryPolicy.MaxThrottled)", throttled)
	case waited+next > p.ThrottleBudget:
		return fmt.Sprintf("gave up after %d 429 answers waited out over %s: the next wait (%s) would pass the budget of %s (RetryPolicy.ThrottleBudget)",
			throttled, waited.Round(time.Second), next.Round(100*time.Millisecond), p.ThrottleBudget)
	case hasDeadline && next >= remaining:
		return fmt.Sprintf("gave up after %d 429 answers waited out over %s: the next wait (%s) would pass the request's deadline (%s left; raise the phase timeout)",
			throttled, waited.Round(time.Second), next.Round(100*time.Millisecond), remaining.Round(100*time.Millisecond))
	}
	return ""
}

// ParseRetryAfter reads a Retry-After header value: either delay-seconds
// ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", RFC 9110 §10.2.3),
// the latter relative to now. Dates in the past give 0. ok is false for an
// empty or malformed value. JupyterHub sends integer seconds.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			// a fractional value is not valid HTTP but some servers send it
			f, ferr := strconv.ParseFloat(v, 64)
			if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
				return 0, false
			}
			f = math.Ceil(f)
			if f > float64(math.MaxInt64/int64(time.Second)) {
				f = float64(math.MaxInt64 / int64(time.Second))
			}
			secs = uint64(f)
		}
		const maxSecs = uint64(math.MaxInt64 / int64(time.Second))
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

// ThrottleWait is how long to wait after a 429: the Retry-After delay plus up
// to 10 % jitter (u in [0,1) from the caller's rand source) so that attendees
// throttled together do not come back together, capped at maxWait. Without a
// Retry-After (active_server_limit answers carry none) it falls back to
// Backoff(attempt).
func ThrottleWait(retryAfter time.Duration, hasRetryAfter bool, attempt int, p RetryPolicy, u float64) time.Duration {
	p = p.withDefaults()
	if !hasRetryAfter {
		return Backoff(attempt, p, u)
	}
	if retryAfter >= p.MaxWait || retryAfter < 0 {
		return p.MaxWait
	}
	d := retryAfter + time.Duration(float64(retryAfter)*0.1*clamp01(u))
	if d > p.MaxWait {
		d = p.MaxWait
	}
	return d
}

// Backoff is the wait before retry number attempt (0-based): "equal jitter",
// half of min(MaxBackoff, BaseBackoff·2^attempt) fixed plus a random half
// (u in [0,1)).
func Backoff(attempt int, p RetryPolicy, u float64) time.Duration {
	p = p.withDefaults()
	if attempt < 0 {
		attempt = 0
	}
	ceil := float64(p.MaxBackoff)
	if attempt < 40 {
		ceil = math.Min(ceil, float64(p.BaseBackoff)*math.Pow(2, float64(attempt)))
	}
	return time.Duration(ceil/2 + ceil/2*clamp01(u))
}

func clamp01(u float64) float64 {
	if math.IsNaN(u) || u < 0 {
		return 0
	}
	if u >= 1 {
		return math.Nextafter(1, 0)
	}
	return u
}

// lockedRand makes a rand.Source safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(src rand.Source) *lockedRand {
	if src == nil {
		src = rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)
	}
	return &lockedRand{r: rand.New(src)}
}

// Float64 returns a uniform value in [0,1).
func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}
