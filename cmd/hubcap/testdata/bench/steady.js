// steady.js — the steady phase of hubtraf's journey (scripts/bench-peer.js),
// for BenchmarkSteadyExecute: each attendee follows OAuth into its server
// (the benchmark's stand-in hub logs it in), starts a kernel, opens its
// websocket in the legacy JSON framing, waits for START_AT (ms since the
// epoch), then executes `5 * 4` (checking the 20) with U(0, 1) s sleeps
// until STOP_AT, and shuts the kernel down. With CELL_EVERY (seconds) each
// attendee instead executes once every CELL_EVERY s, from a random offset.
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';
import jupyterhub from 'k6/x/jupyterhub';

const ATTENDEES = Number(__ENV.ATTENDEES);
const START_AT = Number(__ENV.START_AT);
const STOP_AT = Number(__ENV.STOP_AT);
const CELL_EVERY = Number(__ENV.CELL_EVERY || 0);

const executes = new Counter('peer_executes');
const late = new Counter('bench_late');

export const options = {
  scenarios: {
    steady: { executor: 'per-vu-iterations', vus: ATTENDEES, iterations: 1, maxDuration: '30m' },
  },
};

export default function () {
  const a = jupyterhub.attendee({
    hubURL: __ENV.HUB, username: `peer-${__VU}`, server: '', kernelProtocol: 'legacy',
  });
  try {
    a.oauth();
    a.startKernel();
    a.connectKernel();
    if (Date.now() >= START_AT) {
      late.add(1);
    }
    sleep((START_AT - Date.now()) / 1000);
    if (CELL_EVERY > 0) {
      sleep(Math.random() * CELL_EVERY);
    }
    while (Date.now() < STOP_AT) {
      const t0 = Date.now();
      a.execute('5 * 4', { expect: '20' });
      executes.add(1);
      sleep(CELL_EVERY > 0 ? CELL_EVERY - (Date.now() - t0) / 1000 : Math.random());
    }
    a.shutdownKernel();
  } finally {
    a.close();
  }
}
