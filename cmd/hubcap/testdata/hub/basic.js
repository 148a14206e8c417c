// Checks, groups, custom metrics, setup/teardown and handleSummary against a
// hub: attendees make whole journeys, one VU walks the phases step by step,
// and the admin client creates a user in setup.
import jupyterhub from 'k6/x/jupyterhub';
import { check, group } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const journeys = new Counter('hubcap_test_journeys');
const spawnMs = new Trend('hubcap_test_spawn', true);

export const options = {
  scenarios: {
    journeys: { executor: 'per-vu-iterations', vus: 2, iterations: 2, exec: 'journey' },
    steps: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'steps' },
  },
  thresholds: {
    checks: ['rate==1'],
    'jupyterhub_login_duration{group:::attendee}': ['p(95)<60000'],
    hubcap_test_journeys: ['count==4'],
    // The hub traffic counts in k6's HTTP metrics.
    'http_req_duration{scenario:journeys}': ['p(95)<60000'],
    'http_reqs{scenario:journeys}': ['count>10'],
    'http_req_failed{scenario:journeys}': ['rate<0.5'],
  },
};

const prefix = jupyterhub.prefix();
const run = __ENV.RUN;

// Made in the init context (no request): one attendee per VU, kept across
// iterations.
const me = jupyterhub.attendee({
  username: `${prefix}${run}-${__VU}`, password: 'any', server: 'ws', removeServer: true,
  timeouts: { spawn: '60s' }, tags: { cohort: 'a' },
});

export function setup() {
  const created = jupyterhub.admin.createUsers([`${prefix}${run}-admin`]);
  return { hub: jupyterhub.hubURL(), created: created, version: jupyterhub.version().version };
}

export function journey(data) {
  group('attendee', () => {
    const r = me.journey({ code: 'print(6*7)', expect: '42' });
    check(r, {
      'journey ok': (r) => r.ok && r.error === null,
      'spawn timed': (r) => r.phases.spawn > 0 && r.phases.execute > 0,
    });
    spawnMs.add(r.phases.spawn);
    journeys.add(1);
  });
  group('admin', () => {
    const u = jupyterhub.admin.user(me.username());
    check(u, { 'user listed': (u) => u.name === me.username() });
  });
  check(data, { 'setup data': (d) => d.hub === jupyterhub.hubURL() && d.created.length === 1 && d.version.startsWith('5.') });
}

export function steps() {
  const a = jupyterhub.attendee({ username: `${prefix}${run}-steps`, password: 'any', spawn: 'api', kernelProtocol: 'v1' });
  a.login();
  a.spawn();
  a.oauth();
  const lab = a.openLab();
  const path = a.saveNotebook('', ['print(1)', 'x = 2']);
  const entries = a.listContents('');
  const nb = a.openNotebook(path);
  const kid = a.startKernel();
  const kidSeen = a.kernelId();
  a.connectKernel();
  const ok = a.execute('print(6*7)', { expect: '42' });
  const bad = a.execute('1/0');
  a.shutdownKernel();
  a.stopServer();
  a.logout();
  a.close();
  check(null, {
    'lab loaded': () => lab.bytes > 0,
    'notebook listed': () => entries.some((e) => e.path === path && e.type === 'notebook'),
    'notebook read': () => nb.cells.length === 2 && nb.cells[0].source === 'print(1)',
    'kernel id': () => kid.length > 0 && kidSeen === kid,
    'executed': () => ok.stdout.trim() === '42' && ok.error === null && ok.durationMs > 0,
    'result lists and stringifies': () => Object.keys(ok).includes('executionCount') && JSON.parse(JSON.stringify(ok)).stdout.trim() === '42',
    'python error returned': () => bad.error !== null && bad.error.ename === 'ZeroDivisionError',
  });
}

export function teardown(data) {
  const shape = jupyterhub.admin.shape();
  const users = jupyterhub.admin.users({ nameFilter: prefix + run, includeStopped: true });
  check(shape, { 'shape counts users': (s) => s.U >= users.length && users.length >= 4 });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data), stdout: 'handled the summary\n' };
}
