package reports

// verifyHead and verifyTail form the self-check the browser test injects
// (renderOptions.verify). The head hook records script errors, failed
// resource loads, CSP violations and console.error/warn calls; the tail,
// after load, reads every chart's canvas pixels (all painted ones, and the
// saturated ones that data series leave) and ECharts option and writes
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
      var r = {id: el.id, canvas: false, width: 0, height: 0, painted: 0, colored: 0, series: 0, points: 0};
      var cv = el.querySelector("canvas");
      if (cv) {
        r.canvas = true; r.width = cv.width; r.height = cv.height;
        try {
          var d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
          // colored: saturated pixels below the legend strip, i.e. data
          // drawn in series colours, not grey axes and labels.
          var legendEnd = 40 * cv.width * 4;
          for (var i = 0; i < d.length; i += 4) {
            if (d[i + 3] === 0) { continue; }
            r.painted++;
            var mx = Math.max(d[i], d[i + 1], d[i + 2]), mn = Math.min(d[i], d[i + 1], d[i + 2]);
            if (i >= legendEnd && mx - mn > 60) { r.colored++; }
          }
        } catch (e) { out.errors.push("getImageData " + el.id + ": " + e); }
      }
      try {
        var inst = window.echarts && echarts.getInstanceByDom(el);
        var opt = inst && inst.getOption();
        ((opt && opt.series) || []).forEach(function (s) { r.series++; r.points += (s.data || []).length; });
      } catch (e) { out.errors.push("reading option of " + el.id + ": " + e); }
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
