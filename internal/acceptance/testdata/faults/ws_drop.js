// Fault: the fleet drops every kernel websocket while a long cell runs.
// Each attendee starts a 6 s cell, loses it when the test drops the
// websockets, reconnects and runs a short cell, then leaves cleanly.
import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';

export const options = {
  scenarios: { drop: { executor: 'per-vu-iterations', vus: Number(__ENV.N || 4), iterations: 1, maxDuration: '3m' } },
};

export default function () {
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}wsdrop-${__VU}`, password: 'x', server: 'wsd', removeServer: true });
  try {
    a.login();
    a.spawn();
    a.oauth();
    a.startKernel();
    a.connectKernel();
    let lost = false;
    try {
      a.execute('import time\ntime.sleep(6)\nprint(1)');
    } catch (e) {
      lost = true;
      console.log(`long cell lost: ${e.message}`);
    }
    check(lost, { 'long cell lost to the drop': (v) => v });
    a.connectKernel();
    const r = a.execute('print(6*7)', { expect: '42' });
    check(r, { 'cell after reconnect': (v) => v.stdout.trim() === '42' });
    a.shutdownKernel();
    a.stopServer();
    a.logout();
  } finally {
    a.close();
  }
}
