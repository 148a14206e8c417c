// Long iterations; the test is stopped from outside.
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';

const finished = new Counter('finished');
const tornDown = new Counter('torn_down');

export const options = {
  scenarios: {
    slow: { executor: 'constant-vus', vus: 2, duration: '1m', gracefulStop: __ENV.GRACEFUL || '10s' },
  },
};

export default function () {
  sleep(Number(__ENV.ITER_SECONDS || '1'));
  finished.add(1);
}

export function teardown() {
  tornDown.add(1);
}
