// Fault: the hub answers 503 for a while. Attendees arrive one a second and
// each logs in, lists its user and logs out; the test makes the hub's front
// answer 503 for 10 s in the middle.
import jupyterhub from 'k6/x/jupyterhub';
import { check } from 'k6';

export const options = {
  scenarios: {
    steady: { executor: 'constant-arrival-rate', rate: 2, timeUnit: '1s', duration: __ENV.DURATION || '25s',
      preAllocatedVUs: 10, maxVUs: 30, gracefulStop: '30s' },
  },
};

export default function () {
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}steady-${__VU}`, password: 'x', timeouts: { login: '5s' } });
  try {
    a.login();
    check(true, { 'logged in': (v) => v });
    a.logout();
  } catch (e) {
    check(false, { 'logged in': (v) => v });
  } finally {
    a.close();
  }
}
