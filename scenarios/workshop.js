// workshop.js — a workshop day against a JupyterHub, attendee by attendee.
//
// Attendees arrive in a login wave (a ramping-arrival-rate that rises to a
// peak in the middle of ARRIVAL_WINDOW and falls back: exactly ATTENDEES
// arrivals). Each one, like a person in a browser:
//   1. logs in through the hub's login form (with its _xsrf),
//   2. starts a named server (SERVER_NAME) the browser way: /hub/spawn,
//      spawn-pending and the progress stream,
//   3. follows the OAuth redirects to the server and loads the lab,
//   4. saves and opens a notebook of CELLS cells, starts a kernel and opens
//      its websocket,
//   5. runs cells one after the other with THINK_TIME between them (±50 %)
//      for SESSION_LENGTH (±25 %, so attendees leave gradually),
//   6. SECOND_SERVER_FRACTION of attendees also open a second named server
//      half-way through (what an instructor asks for "the other
//      environment"),
//   7. leave: shut the kernel down, stop their servers (their spawner rows
//      are removed when REMOVE_SERVERS is true) and log out.
// Every phase is timed by k6/x/jupyterhub and tagged with its phase; a
// failed phase counts an error and a failed check, and the attendee leaves.
//
// Usage (a local hub with fleet servers, or a real one with HUBCAP_TOKEN):
//   hubcap run --hub local:5.3.0 --out json=out/results.ndjson scenarios/workshop.js
//   hubcap run --hub https://hub.example.org -e ATTENDEES=300 -e TIME_SCALE=1 scenarios/workshop.js
//   hubcap report out/results.ndjson --limit 3Gi -o out/report.html
//
// Parameters (-e NAME=VALUE, or the environment):
//   ATTENDEES               700     how many attendees arrive
//   ARRIVAL_WINDOW          10m     the login wave's length (not scaled)
//   SESSION_LENGTH          90m     how long an attendee stays, before TIME_SCALE
//   THINK_TIME              60s     time between two cells, before TIME_SCALE
//   TIME_SCALE              1       divides SESSION_LENGTH and THINK_TIME: 30 turns
//                                   a 90-minute session into 3 minutes
//   SECOND_SERVER_FRACTION  0.1     share of attendees opening a second named server
//   CELLS                   6       cells in the attendee's notebook (run in turn)
//   SERVER_NAME             ws1     the named server (the second is SERVER_NAME-2)
//   SPAWN                   browser browser (spawn page + progress) or api
//   REMOVE_SERVERS          true    stop servers with {"remove": true}
//   PASSWORD                hubcap  the attendees' password (dummy authenticator)
//   SPAWN_TIMEOUT           10m     how long an attendee waits for a server
//   HUB_MEMORY_LIMIT        (none)  the deployment's hub memory limit, e.g. 3Gi,
//                                   recorded for the report's verdict
//   SEED                    (none)  seeds Math.random for reproducible think times
// Attendees are named <prefix>a00001… (prefix: hubcap run --name-prefix,
// default "hubcap-"), so the run's cleanup removes them afterwards.
import { randomSeed, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Gauge } from 'k6/metrics';
import jupyterhub from 'k6/x/jupyterhub';
import { bool, dur, jittered, k6d, num, recordInfo, step, str } from './lib/common.js';

const P = {
  ATTENDEES: num('ATTENDEES', 700, { min: 1, max: 1e6 }),
  ARRIVAL_WINDOW: dur('ARRIVAL_WINDOW', '10m'),
  SESSION_LENGTH: dur('SESSION_LENGTH', '90m'),
  THINK_TIME: dur('THINK_TIME', '60s'),
  TIME_SCALE: num('TIME_SCALE', 1, { min: 0.001 }),
  SECOND_SERVER_FRACTION: num('SECOND_SERVER_FRACTION', 0.1, { min: 0, max: 1 }),
  CELLS: num('CELLS', 6, { min: 1, max: 1000 }),
  SERVER_NAME: str('SERVER_NAME', 'ws1'),
  SPAWN: str('SPAWN', 'browser'),
  REMOVE_SERVERS: bool('REMOVE_SERVERS', true),
  SPAWN_TIMEOUT: dur('SPAWN_TIMEOUT', '10m'),
  HUB_MEMORY_LIMIT: str('HUB_MEMORY_LIMIT', ''),
};
const PASSWORD = str('PASSWORD', 'hubcap');
if (__ENV.SEED) {
  // randomSeed is per VU: mix in the VU number so attendees differ.
  randomSeed(num('SEED', 0) * 7919 + __VU);
}

// The timeline of the report: arrivals, and attendees in session.
const arrivals = new Counter('attendee_arrivals');
const active = new Gauge('attendees_active');
const secondServers = new Counter('workshop_second_servers');

const session = P.SESSION_LENGTH / P.TIME_SCALE;
const think = P.THINK_TIME / P.TIME_SCALE;
const half = P.ARRIVAL_WINDOW / 2;

export const options = {
  scenarios: {
    workshop: {
      executor: 'ramping-arrival-rate',
      // Rate is per half-window: rising to ATTENDEES + 1 and back to 0
      // over the window, the wave's area is ATTENDEES + 1 arrivals, the
      // last at its very end; the default function turns away any beyond
      // ATTENDEES, so exactly ATTENDEES arrive.
      timeUnit: k6d(half),
      startRate: 0,
      stages: [
        { duration: k6d(half), target: P.ATTENDEES + 1 },
        { duration: k6d(half), target: 0 },
      ],
      preAllocatedVUs: P.ATTENDEES + 1,
      maxVUs: P.ATTENDEES + 1,
      // The last arrivals still get their whole session.
      gracefulStop: k6d(1.25 * session + P.SPAWN_TIMEOUT + 120),
    },
  },
  thresholds: {
    jupyterhub_login_duration: ['p(95)<10000'],
    jupyterhub_spawn_duration: ['p(95)<120000'],
    jupyterhub_execute_duration: ['p(95)<5000'],
    checks: ['rate>0.95'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

export function setup() {
  const params = Object.assign({}, P);
  if (!params.HUB_MEMORY_LIMIT) {
    delete params.HUB_MEMORY_LIMIT;
  }
  const info = recordInfo('workshop.js', 'attendees', params);
  console.log(`workshop: ${P.ATTENDEES} attendees over ${P.ARRIVAL_WINDOW}s, sessions of ${Math.round(session)}s ` +
    `(TIME_SCALE ${P.TIME_SCALE}), hub ${jupyterhub.hubURL()} ${info.hub_version || ''}`);
}

// Cell i prints the sum 0 + 1 + … + (1000(i+1) − 1), in a form both a real
// kernel and the fleet's small evaluator run.
function cellCode(i) {
  const m = 1000 * (i + 1);
  return `# cell ${i + 1}\nprint(${m} * (${m} - 1) // 2)`;
}

function cellOutput(i) {
  const m = 1000 * (i + 1);
  return String((m * (m - 1)) / 2);
}

function inSession(delta) {
  active.add(Math.max(0, exec.instance.vusActive + delta));
}

export default function () {
  const n = exec.scenario.iterationInTest;
  if (n >= P.ATTENDEES) {
    return; // the wave's rounding: never more than ATTENDEES
  }
  arrivals.add(1);
  inSession(0);
  const username = `${jupyterhub.prefix()}a${String(n + 1).padStart(5, '0')}`;
  const attendee = (server) =>
    jupyterhub.attendee({
      username: username, password: PASSWORD, server: server, spawn: P.SPAWN,
      removeServer: P.REMOVE_SERVERS, timeouts: { spawn: k6d(P.SPAWN_TIMEOUT) },
    });
  const a = attendee(P.SERVER_NAME);
  let b = null;
  let spawned = false;
  let secondSpawned = false;
  try {
    const ok = step('logged in', () => a.login()) &&
      (spawned = step('server ready', () => a.spawn())) &&
      step('oauth to the server', () => a.oauth()) &&
      step('lab loaded', () => a.openLab()) &&
      step('notebook opened', () => {
        const cells = [];
        for (let i = 0; i < P.CELLS; i++) {
          cells.push(cellCode(i));
        }
        a.saveNotebook('', cells);
        a.openNotebook('');
      }) &&
      step('kernel connected', () => {
        a.startKernel();
        a.connectKernel();
      });
    if (!ok) {
      return;
    }
    const wantSecond = Math.random() < P.SECOND_SERVER_FRACTION;
    const stay = jittered(session, 0.25);
    const start = Date.now();
    let cell = 0;
    while ((Date.now() - start) / 1000 < stay) {
      sleep(Math.min(jittered(think, 0.5), Math.max(0, stay - (Date.now() - start) / 1000)));
      if ((Date.now() - start) / 1000 >= stay) {
        break;
      }
      const i = cell % P.CELLS;
      if (!step('cell ran', () => a.execute(cellCode(i), { expect: cellOutput(i) }))) {
        break;
      }
      cell++;
      if (wantSecond && b === null && (Date.now() - start) / 1000 >= stay / 2) {
        b = attendee(`${P.SERVER_NAME}-2`);
        const second = b;
        if (step('second server ready', () => {
          second.login();
          second.spawn();
          secondSpawned = true;
          second.oauth();
          second.openLab();
        })) {
          secondServers.add(1);
        }
      }
    }
    step('kernel shut down', () => a.shutdownKernel());
  } finally {
    // Leave: stop what was started (each attendee's own rights) and log out.
    if (b !== null) {
      if (secondSpawned) {
        step('second server stopped', () => b.stopServer());
      }
      b.close();
    }
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
