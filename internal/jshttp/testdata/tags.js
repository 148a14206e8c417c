import http from 'k6/http';
import { group } from 'k6';
export const options = { iterations: 1, tags: { team: 'a' } };
export default function () {
  group('g1', () => {
    http.get(`${__ENV.BASE}/status/201`, { tags: { name: 'created', extra: 'x' } });
  });
  http.get(http.url`${__ENV.BASE}/anything/${123}`);
  http.setResponseCallback(http.expectedStatuses(404));
  http.get(`${__ENV.BASE}/status/404`);
  http.setResponseCallback(null);
  http.get(`${__ENV.BASE}/status/500`);
  http.get(`${__ENV.BASE}/status/503`, { responseCallback: http.expectedStatuses({ min: 500, max: 599 }) });
}
