// Ten iterations split over execution segments: each one logs an attendee
// in and counts itself, tagged with its number in the whole test.
import jupyterhub from 'k6/x/jupyterhub';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

const seen = new Counter('hubcap_test_iterations');

export const options = {
  scenarios: { split: { executor: 'shared-iterations', vus: 2, iterations: 10 } },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const a = jupyterhub.attendee({ username: `${jupyterhub.prefix()}${__ENV.RUN}-${i}`, password: 'any' });
  a.login();
  seen.add(1, { iteration: String(i) });
}
