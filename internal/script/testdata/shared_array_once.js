// SharedArray's function runs once per test, whatever the number of VUs.
import { SharedArray } from 'k6/data';
const data = new SharedArray('once', function () {
  console.log('SHARED ARRAY BUILT');
  return [1, 2, 3];
});
export const options = { vus: 3, iterations: 3 };
export default function () { if (data.length !== 3) throw new Error('bad length'); }
