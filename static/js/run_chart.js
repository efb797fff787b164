// Run page: the live loss chart (uPlot). No inline scripts (CSP): the loss history comes from data-*
// attributes of #run-chart-data, which the polled status partial carries; each swap redraws the chart.
"use strict";

(function () {
  var chart = null;
  var lastKey = "";

  /** A JSON attribute of `el` as an array of [step, loss] pairs ([] when absent or unreadable). */
  function pairs(el, name) {
    try {
      var value = JSON.parse(el.getAttribute(name) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (err) {
      return [];
    }
  }

  /** uPlot's column data: the union of steps, then train and held-out losses (null where not measured). */
  function columns(train, heldout) {
    var byStep = {};
    train.forEach(function (p) { byStep[p[0]] = [p[1], null]; });
    heldout.forEach(function (p) {
      if (byStep[p[0]]) { byStep[p[0]][1] = p[1]; } else { byStep[p[0]] = [null, p[1]]; }
    });
    var steps = Object.keys(byStep).map(Number).sort(function (a, b) { return a - b; });
    return [
      steps,
      steps.map(function (s) { return byStep[s][0]; }),
      steps.map(function (s) { return byStep[s][1]; }),
    ];
  }

  /** The chart's width: its container's, within sensible bounds for a phone and a desktop. */
  function widthOf(box) {
    return Math.max(260, Math.min(box.clientWidth || 600, 1100));
  }

  /** Options of the two-series loss chart (train: accent line; held-out: green with points). */
  function options(box) {
    return {
      width: widthOf(box),
      height: box.clientWidth < 500 ? 240 : 260,
      scales: { x: { time: false } },
      axes: [
        // Steps are whole numbers: never label 0.5.
        { label: "Training step", stroke: "#5f6b7a", grid: { stroke: "#eef1f4" },
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
        { label: "Loss (lower is better)", stroke: "#5f6b7a", grid: { stroke: "#eef1f4" }, size: 56 },
      ],
      series: [
        { label: "Step" },
        { label: "Training loss", stroke: "#2453d4", width: 1.5, spanGaps: true, points: { show: false } },
        { label: "Held-out loss", stroke: "#147a46", width: 2, spanGaps: true, points: { show: true, size: 6 } },
      ],
    };
  }

  /** Draw or update the chart from the data element, if the page has one. */
  function refresh() {
    var dataEl = document.getElementById("run-chart-data");
    var box = document.getElementById("run-chart");
    if (!dataEl || !box || typeof uPlot === "undefined") { return; }
    var train = pairs(dataEl, "data-train");
    var heldout = pairs(dataEl, "data-heldout");
    var empty = document.getElementById("run-chart-empty");
    if (empty) { empty.hidden = train.length + heldout.length > 0; }
    if (!train.length && !heldout.length) { return; }
    // Unchanged data (a poll while nothing new was measured) needs no redraw.
    var key = train.length + ":" + heldout.length + ":" + JSON.stringify(train.slice(-1)) + JSON.stringify(heldout.slice(-1));
    if (chart && key === lastKey) { return; }
    lastKey = key;
    var data = columns(train, heldout);
    if (chart) {
      chart.setData(data);
    } else {
      chart = new uPlot(options(box), data, box);
    }
  }

  /** Keep the chart as wide as its card when the window is resized. */
  function resize() {
    var box = document.getElementById("run-chart");
    if (chart && box) { chart.setSize({ width: widthOf(box), height: box.clientWidth < 500 ? 240 : 260 }); }
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSettle", refresh);
  window.addEventListener("resize", resize);
})();
