// named-server-stress.js — what preceded the incident: a few users create
// thousands of named servers.
//
// USERS users each start SERVERS_PER_USER named servers through the REST API
// (an admin token: the local hub's service token, or HUBCAP_TOKEN), CONCURRENCY
// at a time, honouring the hub's 429 Retry-After. The servers stay: their
// spawner rows are what JupyterHub 5.0–5.3 joins at start-up, J = Σ R_u·S_u
// rows, quadratic in one user's servers. While they pile up, the hub's memory
// and CPU and the database shape (S, R, J) are followed by hubcap run's hub
// telemetry, and an observer logs the shape every OBSERVE_INTERVAL. The
// capacity report (hubcap report, family "servers") then says how many
// servers per user the hub's next restart survives under a memory limit.
//
//   hubcap run --hub local:5.3.0 --keep --out json=out/stress.ndjson scenarios/named-server-stress.js
//   hubcap report out/stress.ndjson --limit 3Gi -o out/stress.html
//   hubcap check --db out/runs/<run>/jupyterhub.sqlite --release 5.3.0 --memory-limit 3Gi
// (--keep leaves the servers on the hub for the check; without it the run's
// cleanup removes the users it created.)
//
// Parameters (-e NAME=VALUE, or the environment):
//   USERS             3      users holding the servers
//   SERVERS_PER_USER  1000   named servers each
//   CONCURRENCY       8      spawns in flight at once (VUs)
//   STOP_FRACTION     0      share of each user's servers stopped again (rows kept):
//                            stopped named servers still cost R_u rows each
//   OBSERVE_INTERVAL  30s    how often the observer reads the DB shape
//   MAX_DURATION      30m    give up after this long
//   HUB_MEMORY_LIMIT  (none) the deployment's hub memory limit, for the report
import exec from 'k6/execution';
import { Counter, Gauge, Trend } from 'k6/metrics';
import { sleep } from 'k6';
import jupyterhub from 'k6/x/jupyterhub';
import { dur, k6d, num, recordInfo, step, str } from './lib/common.js';

const P = {
  USERS: num('USERS', 3, { min: 1, max: 10000 }),
  SERVERS_PER_USER: num('SERVERS_PER_USER', 1000, { min: 1, max: 100000 }),
  CONCURRENCY: num('CONCURRENCY', 8, { min: 1, max: 1000 }),
  STOP_FRACTION: num('STOP_FRACTION', 0, { min: 0, max: 1 }),
  OBSERVE_INTERVAL: dur('OBSERVE_INTERVAL', '30s'),
  MAX_DURATION: dur('MAX_DURATION', '30m'),
  HUB_MEMORY_LIMIT: str('HUB_MEMORY_LIMIT', ''),
};
const total = P.USERS * P.SERVERS_PER_USER;

const started = new Counter('stress_servers_started');
const spawnTime = new Trend('stress_spawn_duration', true);
const joined = new Gauge('stress_joined_rows');

export const options = {
  scenarios: {
    spawn: {
      executor: 'shared-iterations', exec: 'spawn', vus: P.CONCURRENCY, iterations: total,
      maxDuration: k6d(P.MAX_DURATION),
    },
    observe: {
      executor: 'per-vu-iterations', exec: 'observe', vus: 1, iterations: 1,
      maxDuration: k6d(P.MAX_DURATION + 60),
    },
  },
  thresholds: {
    stress_servers_started: [`count>=${total}`],
    stress_spawn_duration: ['p(95)<60000'],
  },
};

function users() {
  const out = [];
  for (let u = 0; u < P.USERS; u++) {
    out.push(`${jupyterhub.prefix()}stress-${u}`);
  }
  return out;
}

export function setup() {
  const params = Object.assign({}, P);
  if (!params.HUB_MEMORY_LIMIT) {
    delete params.HUB_MEMORY_LIMIT;
  }
  recordInfo('named-server-stress.js', 'servers', params);
  const names = users();
  jupyterhub.admin.createUsers(names);
  console.log(`named-server-stress: ${P.USERS} users × ${P.SERVERS_PER_USER} named servers = ${total} ` +
    `(a 5.0–5.3 restart would join ${P.USERS * P.SERVERS_PER_USER * (P.SERVERS_PER_USER + 1)} rows)`);
  return { users: names };
}

// spawn starts server i: user i mod USERS, server s<i div USERS>.
export function spawn(data) {
  const i = exec.scenario.iterationInTest;
  const user = data.users[i % P.USERS];
  const k = Math.floor(i / P.USERS);
  const server = `s${String(k).padStart(5, '0')}`;
  const t0 = Date.now();
  const ok = step('server started', () => {
    const r = jupyterhub.admin.startServer(user, server);
    if (!r.ready) {
      jupyterhub.admin.waitReady(user, server);
    }
  });
  if (!ok) {
    return;
  }
  spawnTime.add(Date.now() - t0, { phase: 'named_spawn' });
  started.add(1);
  if (k < P.STOP_FRACTION * P.SERVERS_PER_USER) {
    step('server stopped (row kept)', () => jupyterhub.admin.stopServer(user, server, { remove: false }));
  }
}

// observe logs the DB shape until every server is up (or time runs out).
export function observe() {
  const deadline = Date.now() + P.MAX_DURATION * 1000;
  for (;;) {
    let s;
    try {
      s = jupyterhub.admin.shape();
    } catch (e) {
      console.warn(`shape: ${e.message || e}`);
    }
    if (s) {
      joined.add(s.J);
      console.log(`shape: U=${s.U} S=${s.S} R=${s.R} J=${s.J}`);
      if (s.S >= total + P.USERS) {
        return; // every row is there (each user also has its default row)
      }
    }
    if (Date.now() + P.OBSERVE_INTERVAL * 1000 > deadline) {
      return;
    }
    sleep(P.OBSERVE_INTERVAL);
  }
}
