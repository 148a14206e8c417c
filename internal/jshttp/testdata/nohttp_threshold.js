// No k6/http import: thresholds on the builtin HTTP metrics are still valid.
export const options = { iterations: 1, thresholds: { http_req_duration: ['p(95)<500'], http_reqs: ['count>=0'], 'http_req_failed{scenario:default}': ['rate<0.1'] } };
export default function () {}
