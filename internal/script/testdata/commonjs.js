// CommonJS files imported with import and require().
import { check } from 'k6';
import { textSummary, hasCheck } from './cjs/lib.js';
import utils from './cjs/utils.js';
import { randomIntBetween } from './cjs/utils.js';
const helper = require('./cjs/helper.js');
export const options = { iterations: 1 };
export default function () {
  check(null, {
    'named export of exports.x': () => textSummary({ metrics: { a: 1, b: 2 } }) === 'summary of 2 metrics',
    'require of a builtin module': () => hasCheck === true,
    'default export is module.exports': () => utils.uuidv4() === 'not-random',
    'named export of a replaced module.exports': () => randomIntBetween(3, 3) === 3,
    'require in an ES module': () => helper.suffix === ' metrics',
  });
}
