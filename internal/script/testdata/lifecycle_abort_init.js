// test.abort() at the top level exits 108, as in k6.
import exec from 'k6/execution';
exec.test.abort('not configured');
export default function () {}
