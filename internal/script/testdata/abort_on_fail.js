// errors fail from the first iteration; abortOnFail must stop the test long
// before its 60s duration.
import { sleep } from 'k6';
import { Rate } from 'k6/metrics';

const errors = new Rate('errors');

export const options = {
  scenarios: {
    long: { executor: 'constant-vus', vus: 2, duration: '60s', gracefulStop: '0s' },
  },
  thresholds: {
    errors: [{ threshold: 'rate<0.1', abortOnFail: true }],
  },
};

export default function () {
  errors.add(true);
  sleep(0.1);
}
