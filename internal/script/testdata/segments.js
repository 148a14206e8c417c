// Records the test-wide number of every iteration; run with execution
// segments the halves must cover every number once.
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

const seen = new Counter('seen');

export const options = {
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 3, iterations: 11 },
    pervu: { executor: 'per-vu-iterations', vus: 3, iterations: 4, startTime: '0s' },
  },
};

export default function () {
  seen.add(1, { id: exec.scenario.name + ':' + exec.scenario.iterationInTest, vu: String(exec.vu.idInTest) });
}

