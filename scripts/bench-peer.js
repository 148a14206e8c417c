// bench-peer.js — hubtraf's journey, for scripts/bench-peer.sh (the same
// journey hubtraf-simulate runs, so the two generators' CPU compares):
// each attendee waits U(0, START_DELAY) s, logs in through the hub's form,
// starts its default server through /hub/spawn and follows OAuth into it,
// starts a kernel, opens its websocket in the legacy JSON framing (as
// hubtraf's aiohttp client does), executes `5 * 4` (checking the 20) every
// U(0, 1) s for U(MIN_RUNTIME, MAX_RUNTIME) s, then shuts the kernel down
// and stops the server.
//
// Parameters (-e NAME=VALUE): ATTENDEES 300, START_DELAY 60, MIN_RUNTIME 60,
// MAX_RUNTIME 90, PASSWORD hello.
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import jupyterhub from 'k6/x/jupyterhub';

const num = (name, dflt) => (__ENV[name] ? Number(__ENV[name]) : dflt);
const ATTENDEES = num('ATTENDEES', 300);
const START_DELAY = num('START_DELAY', 60);
const MIN_RUNTIME = num('MIN_RUNTIME', 60);
const MAX_RUNTIME = num('MAX_RUNTIME', 90);

const executes = new Counter('peer_executes');
const completed = new Counter('peer_completed');

export const options = {
  scenarios: {
    peer: { executor: 'per-vu-iterations', vus: ATTENDEES, iterations: 1, maxDuration: '30m' },
  },
};

export default function () {
  sleep(Math.floor(Math.random() * START_DELAY));
  const a = jupyterhub.attendee({
    username: `${jupyterhub.prefix()}peer-${__VU}`, password: __ENV.PASSWORD || 'hello',
    server: '', spawn: 'browser', kernelProtocol: 'legacy',
  });
  try {
    a.login();
    a.spawn();
    a.oauth();
    a.startKernel();
    a.connectKernel();
    const runtime = Math.floor(MIN_RUNTIME + Math.random() * (MAX_RUNTIME - MIN_RUNTIME));
    const start = Date.now();
    for (;;) {
      a.execute('5 * 4', { expect: '20' });
      executes.add(1);
      if ((Date.now() - start) / 1000 >= runtime) {
        break;
      }
      sleep(Math.random());
    }
    a.shutdownKernel();
    a.stopServer();
    completed.add(1);
  } finally {
    a.close();
  }
}
