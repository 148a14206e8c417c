// A check that fails half the time and a threshold that cannot hold.
import { check } from 'k6';
import { Trend } from 'k6/metrics';
import exec from 'k6/execution';

const waits = new Trend('waits', true);

export const options = {
  vus: 2,
  iterations: 10,
  thresholds: {
    checks: ['rate>0.9'],
    waits: ['p(95)<5'],
    iterations: ['count==10'],
  },
};

export default function () {
  check(exec.scenario.iterationInTest, { 'even iteration': (i) => i % 2 === 0 });
  waits.add(100);
}
