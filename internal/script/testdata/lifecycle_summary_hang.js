// A handleSummary that never ends: Ctrl-C ends it.
export const options = { iterations: 1 };
export default function () {}
export function handleSummary() {
  for (;;) {}
}
