// k6/timers, global setInterval, k6/encoding, k6/crypto, k6/data: each
// result is a check (reference values from RFC 4648, RFC 1321, FIPS 180-2
// and RFC 4231 test vectors).
import { check } from 'k6';
import { setTimeout as st, setInterval as si, clearInterval as ci } from 'k6/timers';
import encoding from 'k6/encoding';
import crypto from 'k6/crypto';
import { SharedArray } from 'k6/data';

const data = new SharedArray('users', function () {
  return [{ name: 'a', n: 1 }, { name: 'b', n: 2 }];
});

export const options = { vus: 2, iterations: 4 };

export default async function () {
  check(encoding, {
    'b64encode std': (e) => e.b64encode('foobar') === 'Zm9vYmFy',
    'b64encode rawurl': (e) => e.b64encode('\xff\xfe', 'rawurl') !== undefined && e.b64encode('fo', 'rawstd') === 'Zm8',
    'b64decode string': (e) => e.b64decode('Zm9vYmFy', 'std', 's') === 'foobar',
    'b64decode buffer': (e) => e.b64decode('Zm8=').byteLength === 2,
  });
  check(crypto, {
    'md5': (c) => c.md5('abc', 'hex') === '900150983cd24fb0d6963f7d28e17f72',
    'sha1': (c) => c.sha1('abc', 'hex') === 'a9993e364706816aba3e25717850c26c9cd0d89d',
    'sha256': (c) => c.sha256('abc', 'hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'sha256 base64': (c) => c.sha256('abc', 'base64') === 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=',
    'hmac sha256': (c) => c.hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog', 'hex') === 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    'createHash': (c) => { const h = c.createHash('sha256'); h.update('a'); h.update('bc'); return h.digest('hex') === c.sha256('abc', 'hex'); },
    'createHMAC': (c) => { const h = c.createHMAC('sha256', 'key'); h.update('The quick brown fox jumps over the lazy dog'); return h.digest('hex').startsWith('f7bc83f4'); },
    'randomBytes': (c) => c.randomBytes(8).byteLength === 8,
  });
  check(data, {
    'shared array': (d) => d.length === 2 && d[1].name === 'b',
    'shared array frozen': (d) => { try { d[0].name = 'x'; } catch (e) { /* strict mode */ } return d[0].name === 'a'; },
  });
  const ticks = await new Promise((resolve) => {
    let n = 0;
    const id = si(() => { n++; if (n === 3) { ci(id); resolve(n); } }, 10);
  });
  check(ticks, { 'setInterval ticks until cleared': (n) => n === 3 });
  let globalTicks = 0;
  const gid = setInterval(() => { globalTicks++; }, 5);
  await new Promise((r) => st(r, 60));
  clearInterval(gid);
  check(globalTicks, { 'global setInterval': (n) => n >= 3 });
}
