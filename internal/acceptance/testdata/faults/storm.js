// Fault: a 429 storm. N attendees arrive within a few seconds on a hub whose
// concurrent_spawn_limit is small; each logs in, spawns its server the
// browser way (honouring every Retry-After for as long as its spawn timeout
// allows), and leaves. Behind a limit of 5 the last attendees wait for nearly
// everyone before them, so the spawn timeout grows with N (SPAWN_S seconds per
// attendee, at least 5 minutes). N logins in the same second queue in the
// hub's event loop: with 700 on a loaded 2-core machine the last waited over
// 30 s (the default login timeout), as their browsers would, so the login
// phase gets 0.3 s per attendee (at least 30 s) and one request up to 2 min.
// internal/acceptance stormDuration mirrors these rules.
import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';
import exec from 'k6/execution';

const N = Number(__ENV.N || 100);
const PER = Number(__ENV.SPAWN_S || 3);
const spawnTimeout = Math.max(300, Math.ceil(PER * N));
const loginTimeout = Math.max(30, Math.ceil(0.3 * N));
const requestTimeout = Math.min(120, loginTimeout);

export const options = {
  scenarios: {
    storm: { executor: 'shared-iterations', vus: Number(__ENV.VUS || N), iterations: N,
      maxDuration: `${loginTimeout + spawnTimeout + 300}s` },
  },
};

export default function () {
  const id = exec.scenario.iterationInTest;
  // the attendee tag lets the test count each attendee's throttles
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}storm-${id}`, password: 'x', server: 's', removeServer: true,
    timeouts: { login: `${loginTimeout}s`, spawn: `${spawnTimeout}s` }, requestTimeout: `${requestTimeout}s`,
    tags: { attendee: String(id) } });
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
