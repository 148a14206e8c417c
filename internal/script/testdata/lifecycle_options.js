// exec.test.options are the consolidated options.
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
const bad = new Counter('bad_options');
export const options = { vus: 1, iterations: 6, userAgent: 'x' };
export default function () {
  const o = exec.test.options;
  const sc = o.scenarios && o.scenarios.default;
  const ok = o.vus === 3 && o.iterations === 6 && sc && sc.executor === 'shared-iterations' && sc.vus === 3 &&
    sc.iterations === 6 && o.summaryTrendStats.join() === 'avg,min,med,max,p(90),p(95)' && o.setupTimeout === '1m' &&
    o.userAgent === 'x';
  if (!ok) { console.error(JSON.stringify(o)); bad.add(1); }
}
