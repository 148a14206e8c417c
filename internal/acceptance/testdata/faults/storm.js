// Fault: a 429 storm. N attendees arrive within a few seconds on a hub whose
// concurrent_spawn_limit is small; each logs in, spawns its server the
// browser way (honouring Retry-After), and leaves.
import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';
import exec from 'k6/execution';

const N = Number(__ENV.N || 100);

export const options = {
  scenarios: {
    storm: { executor: 'shared-iterations', vus: Number(__ENV.VUS || N), iterations: N, maxDuration: '10m' },
  },
};

export default function () {
  const id = exec.scenario.iterationInTest;
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}storm-${id}`, password: 'x', server: 's', removeServer: true,
    timeouts: { spawn: '5m' } });
  try {
    a.login();
    a.spawn();
    check(true, { 'served': (v) => v });
    a.stopServer();
    a.logout();
  } finally {
    a.close();
  }
}
