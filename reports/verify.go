package reports

// verifyHead and verifyTail form the self-check the browser test injects
// (renderOptions.verify). The head hook records script errors, failed
// resource loads, CSP violations and console.error/warn calls; the tail,
// after load, reads every chart's canvas pixels and ECharts option and writes
// the findings as JSON into <pre id="hubcap-verify">, which the test reads
// from Chromium's --dump-dom output.
const verifyHead = `(function () {
  var errs = [];
  window.__hubcapErrors = errs;
  function rec(kind, msg) { errs.push(kind + ": " + String(msg)); }
  window.addEventListener("error", function (e) {
    rec("error", e.message || (e.target && (e.target.src || e.target.href)) || "resource failed");
  }, true);
  window.addEventListener("unhandledrejection", function (e) { rec("unhandledrejection", e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) { rec("csp", e.violatedDirective + " " + e.blockedURI); });
  ["error", "warn"].forEach(function (level) {
    var orig = console[level];
    console[level] = function () {
      rec("console." + level, Array.prototype.join.call(arguments, " "));
      return orig.apply(console, arguments);
    };
  });
})();`

const verifyTail = `window.addEventListener("load", function () {
  setTimeout(function () {
    var out = {errors: window.__hubcapErrors || [], charts: [], resources: []};
    document.querySelectorAll(".chart").forEach(function (el) {
      var r = {id: el.id, canvas: false, width: 0, height: 0, painted: 0, series: 0, points: 0};
      var cv = el.querySelector("canvas");
      if (cv) {
        r.canvas = true; r.width = cv.width; r.height = cv.height;
        try {
          var d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
          for (var i = 3; i < d.length; i += 4) { if (d[i] !== 0) { r.painted++; } }
        } catch (e) { out.errors.push("getImageData " + el.id + ": " + e); }
      }
      var inst = window.echarts && echarts.getInstanceByDom(el);
      if (inst) {
        (inst.getOption().series || []).forEach(function (s) { r.series++; r.points += (s.data || []).length; });
      }
      out.charts.push(r);
    });
    try { out.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; }); } catch (e) {}
    var pre = document.createElement("pre");
    pre.id = "hubcap-verify";
    pre.style.display = "none";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 200);
});`
