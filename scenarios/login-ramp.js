// login-ramp.js — where does the morning login wave saturate the hub?
//
// Arrivals come at a rate that rises linearly from START_RATE to PEAK_RATE
// (per minute) over RAMP, then stays at PEAK_RATE for PLATEAU. Each arrival
// does what an attendee does in the first minutes of a workshop:
//   1. logs in through the hub's login form (with its _xsrf),
//   2. starts a named server the browser way (/hub/spawn, spawn-pending and
//      the progress stream; the hub adds a proxy route),
//   3. follows the OAuth redirects to the server and loads the lab,
//   4. saves and opens a notebook, starts a kernel and runs one cell,
//   5. stays HOLD (±25 %), then shuts the kernel down, stops the server
//      (removing its spawner row) and logs out.
// The run stops itself (abortOnFail) once the hub is saturated: its CPU
// reaches CPU_LIMIT of a core (hub_cpu_cores, from hubcap's hub telemetry)
// or the p95 login latency exceeds LOGIN_P95, or too many steps fail. The
// capacity report (hubcap report) reads the arrival rate at which that
// happened from the results ("Login wave" section, "measured saturation");
// the same report predicts it from any run below saturation.
//
// Usage:
//   hubcap run --hub local:5.5.1 --out json=out/ramp.ndjson scenarios/login-ramp.js
//   hubcap report out/ramp.ndjson -o out/ramp.html
// A run that stays well below saturation (to fit the model from), e.g.:
//   hubcap run --hub local:5.5.1 -e PEAK_RATE=150 -e RAMP=3m --out json=out/low.ndjson scenarios/login-ramp.js
//
// Parameters (-e NAME=VALUE, or the environment):
//   START_RATE        20      arrivals per minute at the start
//   PEAK_RATE         600     arrivals per minute at the end of the ramp
//   RAMP              8m      how long the rate takes to rise
//   PLATEAU           0s      how long it then stays at PEAK_RATE
//   HOLD              45s     how long an attendee keeps its server running
//   CPU_LIMIT         0.95    hub CPU (cores) at which the run stops
//   LOGIN_P95         2000    p95 login latency (ms) at which the run stops
//   ABORT             true    stop at saturation (false: run the whole ramp)
//   SERVER_NAME       ws1     the named server
//   SPAWN             browser browser (spawn page + progress) or api
//   PASSWORD          hubcap  the attendees' password (dummy authenticator)
//   SPAWN_TIMEOUT     2m      how long an attendee waits for a server
//   MAX_VUS           3000    attendees in flight at most (arrivals beyond are
//                             dropped and counted in dropped_iterations)
// Attendees are named <prefix>r00001… so the run's cleanup removes them.
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Gauge } from 'k6/metrics';
import jupyterhub from 'k6/x/jupyterhub';
import { bool, dur, jittered, k6d, num, recordInfo, step, str } from './lib/common.js';

const P = {
  START_RATE: num('START_RATE', 20, { min: 0, max: 1e6 }),
  PEAK_RATE: num('PEAK_RATE', 600, { min: 1, max: 1e6 }),
  RAMP: dur('RAMP', '8m'),
  PLATEAU: dur('PLATEAU', '0s'),
  HOLD: dur('HOLD', '45s'),
  CPU_LIMIT: num('CPU_LIMIT', 0.95, { min: 0.01, max: 64 }),
  LOGIN_P95: num('LOGIN_P95', 2000, { min: 1 }),
  ABORT: bool('ABORT', true),
  SERVER_NAME: str('SERVER_NAME', 'ws1'),
  SPAWN: str('SPAWN', 'browser'),
  SPAWN_TIMEOUT: dur('SPAWN_TIMEOUT', '2m'),
  MAX_VUS: num('MAX_VUS', 3000, { min: 1, max: 1e6 }),
};
const PASSWORD = str('PASSWORD', 'hubcap');

// The timeline of the report: arrivals, and attendees in session.
const arrivals = new Counter('attendee_arrivals');
const active = new Gauge('attendees_active');

const stages = [{ duration: k6d(P.RAMP), target: P.PEAK_RATE }];
if (P.PLATEAU > 0) {
  stages.push({ duration: k6d(P.PLATEAU), target: P.PEAK_RATE });
}

export const options = {
  scenarios: {
    wave: {
      executor: 'ramping-arrival-rate',
      timeUnit: '1m',
      startRate: P.START_RATE,
      stages: stages,
      // Enough VUs ready for the first minute; more are made on demand.
      preAllocatedVUs: Math.min(P.MAX_VUS, 300),
      maxVUs: P.MAX_VUS,
      gracefulStop: k6d(1.25 * P.HOLD + P.SPAWN_TIMEOUT + 30),
    },
  },
  thresholds: {
    // Saturation: the hub's one Python process at CPU_LIMIT of a core (the
    // last 5-s telemetry value, checked every second), or
    // logins slower than LOGIN_P95 (p95 over the run so far, so it
    // trips a little after the window where logins became slow; the report
    // finds that window). delayAbortEval skips the hub's first minute.
    hub_cpu_cores: [{ threshold: `value<${P.CPU_LIMIT}`, abortOnFail: P.ABORT, delayAbortEval: '60s' }],
    jupyterhub_login_duration: [{ threshold: `p(95)<${P.LOGIN_P95}`, abortOnFail: P.ABORT, delayAbortEval: '60s' }],
    checks: [{ threshold: 'rate>0.9', abortOnFail: P.ABORT, delayAbortEval: '60s' }],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

export function setup() {
  const info = recordInfo('login-ramp.js', 'attendees', P);
  console.log(`login-ramp: ${P.START_RATE} → ${P.PEAK_RATE} arrivals/min over ${P.RAMP}s, hold ${P.HOLD}s, ` +
    `stop at hub CPU ${P.CPU_LIMIT} or p95 login ${P.LOGIN_P95} ms; hub ${jupyterhub.hubURL()} ${info.hub_version || ''}`);
}

function inSession(delta) {
  active.add(Math.max(0, exec.instance.vusActive + delta));
}

export default function () {
  const n = exec.scenario.iterationInTest;
  arrivals.add(1);
  inSession(0);
  const username = `${jupyterhub.prefix()}r${String(n + 1).padStart(5, '0')}`;
  const a = jupyterhub.attendee({
    username: username, password: PASSWORD, server: P.SERVER_NAME, spawn: P.SPAWN,
    removeServer: true, timeouts: { spawn: k6d(P.SPAWN_TIMEOUT) },
  });
  let spawned = false;
  try {
    const ok = step('logged in', () => a.login()) &&
      (spawned = step('server ready', () => a.spawn())) &&
      step('oauth to the server', () => a.oauth()) &&
      step('lab loaded', () => a.openLab()) &&
      step('notebook opened', () => {
        a.saveNotebook('', ['print(6 * 7)']);
        a.openNotebook('');
      }) &&
      step('kernel connected', () => {
        a.startKernel();
        a.connectKernel();
      }) &&
      step('cell ran', () => a.execute('print(6 * 7)', { expect: '42' }));
    if (!ok) {
      return;
    }
    sleep(jittered(P.HOLD, 0.25));
    step('kernel shut down', () => a.shutdownKernel());
  } finally {
    if (spawned) {
      step('server stopped', () => a.stopServer());
    }
    try {
      a.logout();
    } catch (e) {
      // logging out of a hub that is gone changes nothing
    }
    a.close();
    inSession(-1);
  }
}
