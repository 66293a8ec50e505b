// The report page: one HTML document with its styles and script inline and
// the report embedded as JSON, so it opens from a file with no network. The
// script draws every chart as SVG; the data is only ever put into the page
// as text (textContent, SVG <title>), never as markup, so ids and titles
// need no escaping beyond json_for_script's.
#include <latent/report.hpp>

#include <string>
#include <string_view>

namespace latent {

namespace {

constexpr std::string_view kHead = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>)HTML";

constexpr std::string_view kStyle = R"HTML(</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330;
       margin: 0 auto; max-width: 1120px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #dde2ea; padding-bottom: 4px; }
.note { color: #5a6475; }
.row { display: flex; flex-wrap: wrap; gap: 16px; }
.card { border: 1px solid #dde2ea; border-radius: 6px; padding: 8px 12px; background: #fafbfd; }
.stat b { font-size: 18px; display: block; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e6e9ef; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: 700; }
svg { background: #fff; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .axis line, svg .axis path { stroke: #9aa3b2; }
svg .grid { stroke: #eef0f4; }
#errors { color: #b00020; white-space: pre-wrap; }
code { background: #f1f3f7; padding: 0 3px; border-radius: 3px; }
</style>
</head>
<body>
<h1 id="title"></h1>
<p class="note" id="subtitle"></p>
<pre id="errors"></pre>
<noscript><p>This report draws its charts with JavaScript; enable it to see them.</p></noscript>
<section id="model"></section>
<section id="history"></section>
<section id="evaluations"></section>
<section id="popularity"></section>
<section id="coverage"></section>
<section id="map"></section>
<script type="application/json" id="report-data">)HTML";

constexpr std::string_view kScript = R"HTML(</script>
<script>
"use strict";
window.onerror = function (message, source, line, column, error) {
  var text = String(message) + (line ? " (line " + line + ":" + column + ")" : "");
  document.getElementById("errors").textContent += text + "\n";
  document.body.setAttribute("data-error", text);
  return false;
};
window.addEventListener("unhandledrejection", function (e) {
  window.onerror("unhandled rejection: " + e.reason, "", 0, 0, null);
});
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#17becf", "#7f7f7f", "#bcbd22"];
  var data = JSON.parse(document.getElementById("report-data").textContent);

  function el(tag, attrs, text, parent) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgEl(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v, digits) {
    if (!isNum(v)) return "\u2013";
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString("en-US");
    return v.toFixed(digits === undefined ? 4 : digits);
  }
  function extent(values) {  // [min, max] without spreading a long array into arguments
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < values.length; i++) {
      if (values[i] < lo) lo = values[i];
      if (values[i] > hi) hi = values[i];
    }
    return [lo, hi];
  }
  function pct(v) { return isNum(v) ? (100 * v).toFixed(1) + "%" : "\u2013"; }
  function section(id, heading) {
    var s = document.getElementById(id);
    el("h2", {}, heading, s);
    return s;
  }
  function stats(parent, items) {
    var row = el("div", {"class": "row"}, null, parent);
    items.forEach(function (it) {
      var c = el("div", {"class": "card stat"}, null, row);
      el("b", {}, it[1], c);
      el("span", {"class": "note"}, it[0], c);
    });
  }
  // Round steps (1, 2 or 5 times a power of ten) from lo to hi, as
  // multiples of the step so no tick carries a rounding error.
  function niceTicks(lo, hi, count, integers) {
    if (!(hi > lo)) { hi = lo + 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
    var err = (hi - lo) / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    if (integers) step = Math.max(1, Math.round(step));
    var ticks = [];
    for (var i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
      ticks.push(Number((i * step).toPrecision(12)));
    }
    return ticks;
  }
  function tickLabel(t) {
    var a = Math.abs(t);
    if (a >= 1e6) return (t / 1e6).toPrecision(3).replace(/\.?0+$/, "") + "M";
    if (a >= 1e4) return (t / 1e3).toPrecision(3).replace(/\.?0+$/, "") + "k";
    return String(Number(t.toPrecision(6)));
  }
  // opts: {title, xLabel, yLabel, series: [{name, points: [[x, y], ...]}], logY, width,
  //        height, markers}
  function lineChart(parent, opts) {
    var W = opts.width || 520, H = opts.height || 300;
    var legend = opts.series.length > 1;
    var m = {l: 62, r: legend ? 150 : 16, t: 28, b: 44};
    var svg = svgEl("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H,
                            role: "img", "class": "chart"}, null);
    parent.appendChild(svg);
    svgEl("text", {x: m.l, y: 16, "font-weight": "bold"}, svg).textContent = opts.title;
    var pts = [];
    opts.series.forEach(function (s) {
      s.points = s.points.filter(function (p) {
        return isNum(p[0]) && isNum(p[1]) && (!opts.logY || p[1] > 0);
      });
      pts = pts.concat(s.points);
    });
    if (pts.length === 0) {
      svgEl("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, svg).textContent = "no data";
      return svg;
    }
    var fy = opts.logY ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var xs = pts.map(function (p) { return p[0]; });
    var ys = pts.map(function (p) { return fy(p[1]); });
    var ex = extent(xs), ey = extent(ys);
    var x0 = ex[0], x1 = ex[1], y0 = ey[0], y1 = ey[1];
    if (opts.yFrom0 && !opts.logY) y0 = Math.min(0, y0);
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= opts.logY ? 1 : Math.abs(y0) * 0.1 + 1; y1 += opts.logY ? 1 : Math.abs(y1) * 0.1 + 1; }
    var pad = (y1 - y0) * 0.05; y1 += pad; if (!(opts.yFrom0 && y0 === 0)) y0 -= pad;
    function X(v) { return m.l + (v - x0) / (x1 - x0) * (W - m.l - m.r); }
    function Y(v) { return H - m.b - (fy(v) - y0) / (y1 - y0) * (H - m.t - m.b); }
    function Yraw(v) { return H - m.b - (v - y0) / (y1 - y0) * (H - m.t - m.b); }
    var axis = svgEl("g", {"class": "axis"}, svg);
    var yt = opts.logY ? [] : niceTicks(y0, y1, 5);
    if (opts.logY) {
      for (var e = Math.ceil(y0); e <= Math.floor(y1); e++) yt.push(e);
    }
    yt.forEach(function (t) {
      var yy = Yraw(t);
      svgEl("line", {x1: m.l, x2: W - m.r, y1: yy, y2: yy, "class": "grid"}, axis);
      svgEl("text", {x: m.l - 6, y: yy + 4, "text-anchor": "end"}, axis).textContent =
          opts.logY ? tickLabel(Math.pow(10, t)) : tickLabel(t);
    });
    niceTicks(x0, x1, opts.xTicks || 6, opts.integerX).forEach(function (t) {
      var xx = X(t);
      svgEl("line", {x1: xx, x2: xx, y1: H - m.b, y2: H - m.b + 4}, axis);
      svgEl("text", {x: xx, y: H - m.b + 16, "text-anchor": "middle"}, axis).textContent =
          tickLabel(t);
    });
    svgEl("line", {x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}, axis);
    svgEl("line", {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b}, axis);
    svgEl("text", {x: (m.l + W - m.r) / 2, y: H - 8, "text-anchor": "middle"}, svg).textContent =
        opts.xLabel;
    svgEl("text", {x: 14, y: (m.t + H - m.b) / 2, "text-anchor": "middle",
                   transform: "rotate(-90 14 " + (m.t + H - m.b) / 2 + ")"}, svg).textContent =
        opts.yLabel;
    opts.series.forEach(function (s, i) {
      var color = s.color || COLORS[i % COLORS.length];
      if (s.points.length === 0) return;
      var d = s.points.map(function (p, j) {
        return (j ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1);
      }).join("");
      svgEl("path", {d: d, fill: "none", stroke: color, "stroke-width": 2}, svg);
      if (opts.markers) {
        s.points.forEach(function (p) {
          var c = svgEl("circle", {cx: X(p[0]), cy: Y(p[1]), r: 3, fill: color}, svg);
          svgEl("title", {}, c).textContent = s.name + ": " + fmt(p[1]) + " at " + fmt(p[0]);
        });
      }
      if (legend) {
        var ly = m.t + 4 + 14 * i;
        svgEl("rect", {x: W - m.r + 12, y: ly - 8, width: 10, height: 10, fill: color}, svg);
        svgEl("text", {x: W - m.r + 26, y: ly + 1}, svg).textContent = s.name;
      }
    });
    return svg;
  }

  // Header and the model.
  var model = data.model || {};
  document.getElementById("title").textContent = "latent report: " + (model.file || "model");
  var training = model.training || {};
  document.getElementById("subtitle").textContent =
      (model.kind || "?") + " model, " + fmt(model.users) + " users, " + fmt(model.items) +
      " items, dim " + fmt(model.dim) + (training.data ? "; trained on " + training.data : "");
  (function () {
    var s = section("model", "Model");
    stats(s, [["kind", model.kind || "?"], ["users", fmt(model.users)],
              ["items", fmt(model.items)], ["dim", fmt(model.dim)],
              ["training pairs", fmt(training.train_pairs)],
              ["training time", isNum(training.train_seconds) ? training.train_seconds.toFixed(2) + " s" : "\u2013"]]);
    var t = el("table", {}, null, s);
    var head = el("tr", {}, null, el("thead", {}, null, t));
    el("th", {}, "parameter", head); el("th", {}, "value", head);
    var body = el("tbody", {}, null, t);
    Object.keys(model.config || {}).forEach(function (k) {
      var tr = el("tr", {}, null, body);
      el("td", {}, k, tr);
      var v = model.config[k];
      // Parameters stored as float32 print as their shortest decimal (0.9, not 0.89999997).
      el("td", {}, typeof v === "number" ? String(Number(v.toPrecision(7))) : JSON.stringify(v), tr);
    });
  })();

  // Training curves.
  (function () {
    var s = section("history", "Training curves");
    var epochs = data.history || [];
    if (epochs.length === 0) {
      el("p", {"class": "note"},
         "The model file holds no per-epoch history (" + (model.kind || "this model") +
         " has no epochs, or trains in closed form).", s);
      return;
    }
    var row = el("div", {"class": "row"}, null, s);
    var lossSeries = [];
    if (epochs.some(function (e) { return isNum(e.loss); })) {
      lossSeries.push({name: "loss", points: epochs.map(function (e) { return [e.epoch, e.loss]; })});
    }
    if (lossSeries.length) {
      lineChart(row, {title: "Loss per epoch", xLabel: "epoch", yLabel: "loss",
                      series: lossSeries, markers: true, integerX: true});
    }
    var metricSeries = [];
    if (epochs.some(function (e) { return isNum(e.sampled_accuracy); })) {
      metricSeries.push({name: "sampled accuracy", points: epochs.map(function (e) {
        return [e.epoch, e.sampled_accuracy]; })});
    }
    ["train", "test"].forEach(function (part) {
      var keys = {};
      epochs.forEach(function (e) { Object.keys(e[part] || {}).forEach(function (k) { keys[k] = 1; }); });
      Object.keys(keys).sort(function (a, b) {
        return parseInt(a.replace(/\D/g, ""), 10) - parseInt(b.replace(/\D/g, ""), 10);
      }).forEach(function (k) {
        metricSeries.push({name: part + " " + k, points: epochs.map(function (e) {
          return [e.epoch, (e[part] || {})[k]]; })});
      });
    });
    if (metricSeries.length) {
      lineChart(row, {title: "Metrics per epoch (FactorizedTopK accuracy)", xLabel: "epoch",
                      yLabel: "accuracy", series: metricSeries, markers: true, integerX: true,
                      yFrom0: true});
    }
    if (!lossSeries.length && !metricSeries.length) {
      lineChart(row, {title: "Seconds per epoch", xLabel: "epoch", yLabel: "seconds",
                      markers: true, integerX: true, yFrom0: true,
                      series: [{name: "", points: epochs.map(function (e) {
                        return [e.epoch, e.seconds]; })}]});
      el("p", {"class": "note"}, "The model file records no loss or metrics per epoch, only " +
         "their time (ALS records its loss when trained with --compute-loss; a --test-fraction " +
         "adds test metrics for the two-tower model).", s);
    }
    var secs = epochs.map(function (e) { return e.seconds; }).filter(isNum);
    el("p", {"class": "note"}, epochs.length + " epochs, " +
       secs.reduce(function (a, b) { return a + b; }, 0).toFixed(2) + " s in all.", s);
  })();

  // Metrics@K of the evaluation files, one column per model.
  (function () {
    var s = section("evaluations", "Metrics at K");
    var evs = data.evaluations || [];
    if (evs.length === 0) {
      el("p", {"class": "note"}, "No evaluations given: add --evaluation FILE (written by " +
         "latent evaluate --json FILE) for each model to compare.", s);
      return;
    }
    var metrics = ["recall", "precision", "ndcg", "map", "hit_rate", "factorized_top_k"];
    var rows = [];
    var ks = {};
    evs.forEach(function (ev) { (ev.result.at_k || []).forEach(function (r) { ks[r.k] = 1; }); });
    var kList = Object.keys(ks).map(Number).sort(function (a, b) { return a - b; });
    metrics.forEach(function (metric) {
      kList.forEach(function (k) {
        var values = evs.map(function (ev) {
          var r = (ev.result.at_k || []).filter(function (x) { return x.k === k; })[0];
          return r ? r[metric] : undefined;
        });
        if (values.some(isNum)) rows.push({name: metric + "@" + k, values: values, higher: true});
      });
    });
    rows.push({name: "coverage", values: evs.map(function (ev) { return ev.result.coverage; }), higher: true});
    rows.push({name: "users evaluated", values: evs.map(function (ev) { return ev.result.users; }), plain: true});
    rows.push({name: "training time (s)", values: evs.map(function (ev) { return ev.result.train_seconds; }), plain: true});
    var t = el("table", {}, null, s);
    var head = el("tr", {}, null, el("thead", {}, null, t));
    el("th", {}, "metric", head);
    evs.forEach(function (ev) {
      var th = el("th", {}, ev.label, head);
      th.title = ev.file + (ev.result.model ? " (" + ev.result.model + ")" : "");
    });
    var body = el("tbody", {}, null, t);
    rows.forEach(function (r) {
      var tr = el("tr", {}, null, body);
      el("td", {}, r.name, tr);
      var best = extent(r.values.filter(isNum))[1];
      r.values.forEach(function (v) {
        var td = el("td", {}, r.plain ? fmt(v, 2) : fmt(v), tr);
        if (!r.plain && evs.length > 1 && isNum(v) && v === best) td.className = "best";
      });
    });
    var models = el("p", {"class": "note"}, null, s);
    models.textContent = "Columns: " + evs.map(function (ev) {
      return ev.label + " = " + ev.file + (ev.result.model ? " (" + ev.result.model + ")" : "") +
          (ev.result.data ? ", " + ev.result.data : "");
    }).join("; ") + ". Best value of each row in bold.";
    if (kList.length > 1) {
      var row = el("div", {"class": "row"}, null, s);
      ["recall", "ndcg"].forEach(function (metric) {
        lineChart(row, {title: metric + " at K", xLabel: "K", yLabel: metric, markers: true,
                        yFrom0: true, series: evs.map(function (ev) {
          return {name: ev.label, points: (ev.result.at_k || []).map(function (r) {
            return [r.k, r[metric]]; })};
        })});
      });
    }
  })();

  // Popularity: the long tail.
  (function () {
    var s = section("popularity", "Item popularity");
    var p = data.popularity || {};
    stats(s, [["interactions (" + (p.source || "") + ")", fmt(p.interactions)],
              ["known items", fmt(p.known_items)],
              ["items without interactions", fmt(p.items_without)],
              ["share of the top 1% items", pct(p.top_1pct_share)],
              ["share of the top 10% items", pct(p.top_10pct_share)]]);
    var curve = p.curve || [];
    var row = el("div", {"class": "row"}, null, s);
    lineChart(row, {title: "Interactions per item, most popular first (log scale)",
                    xLabel: "item rank", yLabel: "interactions", logY: true,
                    series: [{name: "", points: curve.map(function (c) { return [c[0], c[1]]; })}]});
    var n = p.known_items || 1;
    lineChart(row, {title: "Cumulative share of interactions", xLabel: "share of items (most popular first)",
                    yLabel: "share of interactions", yFrom0: true,
                    series: [{name: "", points: [[0, 0]].concat(curve.map(function (c) {
                      return [c[0] / n, c[2]]; }))}]});
  })();

  // Recommendation coverage.
  (function () {
    var s = section("coverage", "Recommendation coverage");
    var c = data.coverage || {};
    stats(s, [["catalog coverage of top-" + c.k, pct(c.coverage)],
              ["items in some top-" + c.k, fmt(c.items_recommended) + " of " + fmt(c.known_items)],
              ["users ranked", fmt(c.users)],
              ["top-" + c.k + " slots on the 10% most popular items", pct(c.top_10pct_slot_share)]]);
    var W = 520, H = 26;
    var svg = svgEl("svg", {width: W, height: H, role: "img"}, null);
    s.appendChild(svg);
    svgEl("rect", {x: 0, y: 4, width: W, height: 18, fill: "#e6e9ef"}, svg);
    var bar = svgEl("rect", {x: 0, y: 4, width: Math.max(1, W * (c.coverage || 0)), height: 18,
                             fill: COLORS[0]}, svg);
    svgEl("title", {}, bar).textContent = pct(c.coverage) + " of the catalog is recommended";
    el("p", {"class": "note"}, "Every known user's top-" + c.k + (c.exclude_seen ?
       " (items seen in training excluded)" : " (seen items included)") +
       "; coverage is the share of the catalog that appears in at least one list.", s);
  })();

  // The embedding map.
  (function () {
    var s = section("map", "Item embeddings, first two principal components");
    var mp = data.map || {};
    var xs = mp.x || [], ys = mp.y || [];
    if (xs.length === 0) {
      el("p", {"class": "note"}, "No item embeddings to map.", s);
      return;
    }
    var total = mp.total_variance || 0;
    var v = mp.variance || [];
    el("p", {"class": "note"}, (mp.capped ? "The " + fmt(mp.items) + " most popular of " +
       fmt(mp.known_items) + " items are shown (the map is capped at " + fmt(mp.max_items) +
       ")" : "All " + fmt(mp.items) + " items are shown") +
       "; the axes are their embeddings' first two principal components, holding " +
       (total > 0 ? pct(v[0] / total) + " and " + pct((v[1] || 0) / total) : "\u2013") +
       " of the variance. Darker points have more interactions; hover a point for its title.", s);
    var W = 1040, H = 680, m = 24;
    var svg = svgEl("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
                            id: "map-svg"}, null);
    s.appendChild(svg);
    svgEl("rect", {x: 0.5, y: 0.5, width: W - 1, height: H - 1, fill: "none", stroke: "#dde2ea"}, svg);
    var ex = extent(xs), ey = extent(ys);
    var x0 = ex[0], x1 = ex[1], y0 = ey[0], y1 = ey[1];
    if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
    if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
    var counts = mp.counts || [];
    var cmax = Math.log1p(Math.max(1, extent(counts)[1]));
    var g = svgEl("g", {}, svg);
    // Least popular first, so the popular points are drawn on top.
    for (var i = xs.length - 1; i >= 0; i--) {
      var shade = cmax > 0 ? Math.log1p(counts[i] || 0) / cmax : 0;
      var light = Math.round(85 - 55 * shade);
      var c = svgEl("circle", {
        cx: (m + (xs[i] - x0) / (x1 - x0) * (W - 2 * m)).toFixed(1),
        cy: (H - m - (ys[i] - y0) / (y1 - y0) * (H - 2 * m)).toFixed(1),
        r: (2 + 3 * shade).toFixed(1), fill: "hsl(212, 70%, " + light + "%)",
        "fill-opacity": 0.8}, g);
      var title = (mp.titles && mp.titles[i]) || mp.ids[i];
      var id = mp.ids[i];
      svgEl("title", {}, c).textContent = title + (title !== id ? " [" + id + "]" : "") +
          " \u2014 " + fmt(counts[i]) + " interactions";
    }
  })();

  document.body.setAttribute("data-rendered", "true");
})();
</script>
</body>
</html>
)HTML";

}  // namespace

std::string render_report_html(const nlohmann::json& report) {
  std::string title = "latent report";
  if (report.contains("model") && report["model"].is_object()) {
    const nlohmann::json& file = report["model"].value("file", nlohmann::json());
    if (file.is_string() && !file.get<std::string>().empty()) {
      title += ": " + file.get<std::string>();
    }
  }
  std::string page;
  page += kHead;
  page += html_escape(title);
  page += kStyle;
  page += json_for_script(report);
  page += kScript;
  return page;
}

}  // namespace latent
