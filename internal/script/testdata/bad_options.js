// Every problem of this options block must be reported at once.
export const options = {
  scenarios: {
    login: { executor: 'constant-vus', vus: 'ten', duration: '30 seconds' },
    spawn: { executor: 'ramping-arrival-rate', stages: [{ duration: '1m', target: 5 }], maxVU: 3 },
    nothing: { executor: 'constant-vu', vus: 1 },
    other: { executor: 'shared-iterations', exec: 'missingFunction' },
  },
  thresholds: {
    no_such_metric: ['p(95)<1'],
    checks: ['p(95)<1', 'rate<<1'],
  },
};

export default function () {}
