// Async functions, promises and timers run on the VU's event loop.
import { check } from 'k6';
import exec from 'k6/execution';

export const options = { iterations: 2 };

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default async function () {
  const before = Date.now();
  await wait(20);
  const value = await Promise.resolve(__ITER);
  check(value, {
    'awaited value': (v) => v === exec.vu.iterationInInstance,
    'timer waited': () => Date.now() - before >= 15,
  });
  if (__ENV.REJECT) {
    Promise.reject(new Error('nobody catches this'));
  }
}
