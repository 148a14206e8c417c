// setup, teardown and handleSummary each run in a fresh VU: globals and
// exec.vu.tags set in one do not leak into the next.
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
const leaks = new Counter('leaks');
let state = 'init';
export const options = { vus: 2, iterations: 4 };
export function setup() {
  if (state !== 'init') leaks.add(1);
  state = 'setup';
  exec.vu.tags.phase = 'setup';
  return { fromSetup: 1 };
}
export default function (data) {
  if (data.fromSetup !== 1) leaks.add(1);
}
export function teardown(data) {
  if (state !== 'init' || exec.vu.tags.phase !== undefined) leaks.add(1);
  if (data.fromSetup !== 1) leaks.add(1);
  state = 'teardown';
}
export function handleSummary(data) {
  const leaked = state !== 'init' || (data.metrics.leaks && data.metrics.leaks.values.count > 0);
  return { stdout: leaked ? 'LEAKED\n' : 'FRESH\n' };
}
