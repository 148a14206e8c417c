// A handleSummary slower than handleSummaryTimeout is stopped; the
// default summary is printed instead.
export const options = { iterations: 1, handleSummaryTimeout: '300ms' };
export default function () {}
export function handleSummary() {
  for (;;) {}
}
