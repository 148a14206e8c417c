// Checks, nested groups, custom metrics, setup data, open() and a relative
// import, with thresholds that pass.
import { check, group } from 'k6';
import exec from 'k6/execution';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import { double, greeting } from './lib/util.js';

const hits = new Counter('hits');
const latency = new Trend('fake_latency', true);
const okRate = new Rate('ok_rate');
const lastVU = new Gauge('last_vu');
const word = open('./data.txt').trim();

export const options = {
  scenarios: {
    one: { executor: 'shared-iterations', vus: 2, iterations: 6, tags: { kind: 'basic' } },
  },
  thresholds: {
    checks: ['rate==1'],
    hits: ['count==6'],
    'fake_latency{scenario:one}': ['max<1000', 'p(99)<1000'],
  },
};

export function setup() {
  return { word: word, greeting: greeting };
}

export default function (data) {
  group('outer', () => {
    group('inner', () => {
      check(data, {
        'word from setup': (d) => d.word === 'hello',
        'module opened its file': (d) => d.greeting === 'hello',
        'relative import works': () => double(2) === 4,
        'env passed': () => __ENV.HUBCAP_TEST_VALUE === '42',
        'scenario name': () => exec.scenario.name === 'one',
      });
    });
  });
  hits.add(1, { iter: String(exec.scenario.iterationInTest) });
  latency.add(double(__ITER + 1) * 10);
  okRate.add(true);
  lastVU.add(__VU);
}
