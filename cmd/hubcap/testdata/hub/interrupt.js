// Runs until interrupted; each iteration logs a new attendee in, so the
// cleanup has users to remove.
import jupyterhub from 'k6/x/jupyterhub';
import exec from 'k6/execution';
import { sleep } from 'k6';

export const options = {
  scenarios: { long: { executor: 'constant-vus', vus: 2, duration: '60s', gracefulStop: '2s' } },
};

export default function () {
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}${__ENV.RUN}-${exec.vu.idInTest}-${exec.vu.iterationInInstance}`, password: 'any' });
  a.login();
  sleep(0.2);
}
