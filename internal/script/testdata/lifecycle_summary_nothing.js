// handleSummary returning nothing: k6 prints its default summary.
import { Counter } from 'k6/metrics';
const seen = new Counter('summary_seen');
export const options = { iterations: 1 };
export default function () { seen.add(1); }
export function handleSummary(data) {
  if (!data.metrics.summary_seen) { throw new Error('no data'); }
}
