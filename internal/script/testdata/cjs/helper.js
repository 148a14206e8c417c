module.exports = { suffix: ' metrics' };
