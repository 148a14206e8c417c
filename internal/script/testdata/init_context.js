// What the init context allows and refuses.
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import hub from 'k6/x/testhub';

const results = new Counter('results');
let initRefusal = '';
try {
  hub.call();
} catch (e) {
  initRefusal = String(e);
}
let checkRefusal = '';
try {
  check(1, { x: true });
} catch (e) {
  checkRefusal = String(e);
}

export const options = { iterations: 1 };

export default function () {
  let metricRefusal = '';
  try {
    new Counter('late');
  } catch (e) {
    metricRefusal = String(e);
  }
  let openRefusal = '';
  try {
    open('./data.txt');
  } catch (e) {
    openRefusal = String(e);
  }
  check(null, {
    'hub refused in init': () => initRefusal.includes('init context'),
    'check refused in init': () => checkRefusal.includes('init context'),
    'metric refused in VU': () => metricRefusal.includes('init context'),
    'open refused in VU': () => openRefusal.includes('init context'),
    'hub works in VU': () => hub.call() === 'called from VU 1',
  });
  results.add(1);
}
