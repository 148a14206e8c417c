// module.exports replaced by an object, as k6-utils does.
module.exports = {
  randomIntBetween: function (min, max) { return Math.floor(Math.random() * (max - min + 1) + min); },
  uuidv4: function () { return 'not-random'; },
};
