// Attendees keep logging in for 8 s; the test kills the hub on the way.
// Logins against a dead hub throw; the run goes on to its end.
import jupyterhub from 'k6/x/jupyterhub';
import { sleep } from 'k6';

export const options = {
  scenarios: { steady: { executor: 'constant-vus', vus: 1, duration: '8s', gracefulStop: '1s' } },
};

export default function () {
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}died-${__ITER}`, password: 'any', timeouts: { login: '2s' } });
  a.login();
  sleep(0.2);
}
