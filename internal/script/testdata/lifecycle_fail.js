// exec.test.fail() marks the test failed (exit 110) and lets it run on.
import exec from 'k6/execution';
export const options = { iterations: 3 };
export default function () {
  if (exec.scenario.iterationInTest === 0) {
    exec.test.fail('first iteration saw a problem');
  }
}
