import http from 'k6/http';
export const options = { iterations: 1, throw: true };
export default function () {
  let threw = false;
  try { http.get('http://127.0.0.1:1/'); } catch (e) { threw = String(e).includes('connection refused'); }
  if (!threw) { throw new Error('options.throw did not throw'); }
}
