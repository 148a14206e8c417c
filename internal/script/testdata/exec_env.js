// Scenarios choose their function (exec), environment and tags.
import { check } from 'k6';
import exec from 'k6/execution';

export const options = {
  scenarios: {
    plain: { executor: 'per-vu-iterations', vus: 1, iterations: 1 },
    special: {
      executor: 'per-vu-iterations', vus: 1, iterations: 2, exec: 'special',
      env: { FLAVOUR: 'special' }, tags: { team: 'hub' }, startTime: '100ms',
    },
  },
};

export default function () {
  check(__ENV, { 'default sees no scenario env': (e) => e.FLAVOUR === undefined });
}

export function special() {
  exec.vu.tags.user = 'alice';
  check(__ENV, {
    'scenario env': (e) => e.FLAVOUR === 'special',
    'global env kept': (e) => e.HUBCAP_TEST_VALUE === '42',
    'scenario tag': () => exec.vu.tags.team === 'hub' && exec.vu.tags.scenario === 'special',
    'executor name': () => exec.scenario.executor === 'per-vu-iterations',
  });
}
