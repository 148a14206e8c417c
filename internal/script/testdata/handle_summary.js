// handleSummary receives k6's summary data and writes files.
import { check } from 'k6';

export const options = { iterations: 3, thresholds: { checks: ['rate==1'] } };

export function setup() {
  return { from: 'setup' };
}

export default function () {
  check(1, { 'one is one': (x) => x === 1 });
}

export function handleSummary(data) {
  const out = {};
  out[__ENV.SUMMARY_FILE] = JSON.stringify({
    iterations: data.metrics.iterations.values.count,
    checksOK: data.metrics.checks.thresholds['rate==1'].ok,
    checkName: data.root_group.checks[0].name,
    setupData: data.setup_data,
    hasDuration: data.state.testRunDurationMs > 0,
  });
  out.stdout = 'custom summary\n';
  return out;
}
