// Draws the /failures chart with uPlot from the data-chart attribute the server wrote
// (the page keeps its table for readers without JavaScript). No inline script: the CSP
// forbids it.
"use strict";
(function () {
  var PALETTE = ["#2456c9", "#d9480f", "#2b8a3e", "#9c36b5", "#e67700", "#0b7285", "#c2255c", "#5c940d", "#868e96"];

  function draw(figure) {
    var data = JSON.parse(figure.getAttribute("data-chart"));
    var n = data.x.length;
    // Stack: each series is drawn as the running sum of itself and the ones before it,
    // the largest sum first so the smaller areas paint over it.
    var sums = [];
    var running = new Array(n).fill(0);
    data.series.forEach(function (s) {
      running = running.map(function (v, i) { return v + s.values[i]; });
      sums.push(running.slice());
    });
    var series = [{}];
    var columns = [data.x];
    for (var k = data.series.length - 1; k >= 0; k--) {
      var colour = PALETTE[k % PALETTE.length];
      series.push({ label: data.series[k].label, stroke: colour, fill: colour + "cc", width: 1, points: { show: false } });
      columns.push(sums[k]);
    }
    var width = Math.max(320, figure.clientWidth - 24);
    var plot = new uPlot({ width: width, height: 280, series: series, scales: { x: { time: true } },
      axes: [{}, { label: "failures" }] }, columns, figure);
    figure.classList.add("drawn");
    figure.uplot = plot;
  }

  function drawAll(root) {
    root.querySelectorAll("[data-chart]").forEach(function (figure) {
      if (!figure.classList.contains("drawn") && window.uPlot) { draw(figure); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
})();
