// __ENV behaves as a plain object: read, set, delete, list, stringify.
import { check } from 'k6';

export const options = { scenarios: { env: { executor: 'per-vu-iterations', vus: 2, iterations: 1 } } };

export default function () {
  const before = Object.keys(__ENV);
  __ENV.ADDED = 'yes';
  __ENV.NUM = 5;
  delete __ENV.GONE;
  const copy = JSON.parse(JSON.stringify(__ENV));
  check(__ENV, {
    'reads the environment': (e) => e.HUBCAP_ENV_A === 'a' && e.GONE === undefined,
    'lists the environment': () => before.includes('HUBCAP_ENV_A') && before.includes('GONE'),
    'keeps what the script set': (e) => e.ADDED === 'yes' && e.NUM === 5 && 'ADDED' in e,
    'deleted keys are gone': (e) => !('GONE' in e) && !Object.keys(e).includes('GONE'),
    'stringifies': () => copy.HUBCAP_ENV_A === 'a' && copy.ADDED === 'yes' && copy.GONE === undefined,
    'unknown keys are undefined': (e) => e.NONESUCH === undefined && !('NONESUCH' in e),
  });
}
