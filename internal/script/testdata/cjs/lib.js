// A CommonJS file, as the jslib bundles (k6-summary, k6-utils) are.
const helper = require('./helper.js');
const k6 = require('k6');
exports.textSummary = function (data) {
  return 'summary of ' + Object.keys(data.metrics).length + helper.suffix;
};
module.exports.hasCheck = typeof k6.check === 'function';
