// smoke.js — one attendee, end to end: is this hub configured for a workshop?
//
// A single attendee logs in through the hub's login form, starts a named
// server the browser way, follows the OAuth redirects, loads the lab, lists
// the contents, saves and opens a notebook, starts a kernel, opens its
// websocket, runs a cell and checks its output, shuts the kernel down,
// stops (and removes) the server and logs out. Every step is a check: the
// run exits 99 when one fails, with the phase and HTTP status in the log.
// Run it before a rehearsal, against the real hub:
//   HUBCAP_TOKEN=… hubcap run --hub https://hub.example.org scenarios/smoke.js
//   hubcap run --hub local:5.5.1 --out json=out/smoke.ndjson scenarios/smoke.js
//
// Parameters (-e NAME=VALUE, or the environment):
//   USERNAME     <prefix>smoke  the attendee (the hub must let it log in)
//   PASSWORD     hubcap         its password
//   SERVER_NAME  smoke          the named server ("" for the default server)
//   SPAWN        browser        browser (spawn page + progress) or api
//   KEEP_SERVER  false          leave the server running at the end
//   SPAWN_TIMEOUT 5m            how long to wait for the server
import { check } from 'k6';
import { Counter, Gauge } from 'k6/metrics';
import jupyterhub from 'k6/x/jupyterhub';
import { bool, dur, k6d, recordInfo, step, str } from './lib/common.js';

const P = {
  SERVER_NAME: str('SERVER_NAME', 'smoke'),
  SPAWN: str('SPAWN', 'browser'),
  KEEP_SERVER: bool('KEEP_SERVER', false),
  SPAWN_TIMEOUT: dur('SPAWN_TIMEOUT', '5m'),
};

const arrivals = new Counter('attendee_arrivals');
const active = new Gauge('attendees_active');

export const options = {
  scenarios: {
    smoke: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: k6d(P.SPAWN_TIMEOUT + 300) },
  },
  thresholds: {
    checks: ['rate==1'],
  },
};

export function setup() {
  recordInfo('smoke.js', 'attendees', Object.assign({ ATTENDEES: 1 }, P));
}

export default function () {
  const username = str('USERNAME', `${jupyterhub.prefix()}smoke`);
  const a = jupyterhub.attendee({
    username: username, password: str('PASSWORD', 'hubcap'), server: P.SERVER_NAME, spawn: P.SPAWN,
    removeServer: !P.KEEP_SERVER, timeouts: { spawn: k6d(P.SPAWN_TIMEOUT) },
  });
  arrivals.add(1);
  active.add(1);
  let spawned = false;
  try {
    const ok = step('logged in', () => a.login()) &&
      (spawned = step('server ready', () => a.spawn())) &&
      step('oauth to the server', () => a.oauth()) &&
      step('lab loaded', () => check(a.openLab(), { 'lab page has a body': (r) => r.bytes > 0 })) &&
      step('contents listed', () => a.listContents('')) &&
      step('notebook saved and opened', () => {
        const path = a.saveNotebook('', ['print(6*7)']);
        const nb = a.openNotebook(path);
        check(nb, { 'notebook has its cell': (n) => JSON.stringify(n).includes('print(6*7)') });
      }) &&
      step('kernel started', () => a.startKernel()) &&
      step('kernel websocket', () => a.connectKernel()) &&
      step('cell printed 42', () => a.execute('print(6*7)', { expect: '42' })) &&
      step('kernel shut down', () => a.shutdownKernel());
    if (ok && !P.KEEP_SERVER) {
      spawned = !step('server stopped', () => a.stopServer());
    }
  } finally {
    if (spawned && !P.KEEP_SERVER) {
      try {
        a.stopServer();
      } catch (e) {
        // already reported
      }
    }
    step('logged out', () => a.logout());
    a.close();
    active.add(0);
  }
}
