// abortOnFail stops a 60 s test as soon as the first logins are counted.
import jupyterhub from 'k6/x/jupyterhub';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';

const logins = new Counter('hubcap_test_logins');

export const options = {
  scenarios: { forever: { executor: 'constant-vus', vus: 1, duration: '60s' } },
  thresholds: { hubcap_test_logins: [{ threshold: 'count<1', abortOnFail: true }] },
};

export default function () {
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}${__ENV.RUN}`, password: 'any' });
  a.login();
  logins.add(1);
  sleep(0.5);
}
