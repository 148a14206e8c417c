// test.abort() stops the test with exit code 108; teardown still runs.
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

const after = new Counter('after_abort');
const tornDown = new Counter('torn_down');

export const options = { scenarios: { a: { executor: 'constant-vus', vus: 1, duration: '30s' } } };

export default function () {
  if (exec.scenario.iterationInTest === 2) {
    exec.test.abort('enough');
    after.add(1); // never reached
  }
}

export function teardown() {
  tornDown.add(1);
}
