// Report charts (ECharts) and the transparency map (Leaflet), drawn from the JSON
// endpoints named in each element's data-src. The tables beside them carry the same
// figures, so without JavaScript, without the libraries or on a screen reader nothing
// is lost. No inline script: this file is the only code the report pages run.
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  var cache = {};
  function load(url) {
    if (!cache[url]) {
      cache[url] = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        });
    }
    return cache[url];
  }

  function labels(box) {
    try { return JSON.parse(box.dataset.labels || "{}"); } catch (e) { return {}; }
  }

  var COLOURS = { red: "#c53030", yellow: "#d69e2e", green: "#2f855a" };

  function needsChart(box, data) {
    var names = labels(box);
    var rows = data.needs;
    var series = ["collected", "published", "resolved"].map(function (measure) {
      return {
        name: names[measure] || measure,
        type: data.group_by === "month" ? "line" : "bar",
        data: rows.map(function (row) { return row[measure]; }),
      };
    });
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 12, top: 36, bottom: 60 },
      xAxis: { type: "category", data: rows.map(function (row) { return row.label; }),
               axisLabel: { rotate: rows.length > 6 ? 40 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: series,
    };
  }

  function lightsChart(box, data) {
    return {
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      series: [{
        type: "pie", radius: ["35%", "65%"], label: { show: false },
        data: data.lights.map(function (row) {
          return { name: row.label, value: row.count, itemStyle: { color: COLOURS[row.key] } };
        }),
      }],
    };
  }

  function publicMonthsChart(box, data) {
    var names = labels(box);
    var rows = data.province;
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 48, top: 36, bottom: 40 },
      xAxis: { type: "category", data: rows.map(function (row) { return row.month; }) },
      yAxis: [{ type: "value", minInterval: 1 }, { type: "value" }],
      series: [
        { name: names.fulfilled, type: "bar", data: rows.map(function (r) { return r.fulfilled; }) },
        { name: names.hours, type: "line", yAxisIndex: 1, data: rows.map(function (r) { return r.hours; }) },
      ],
    };
  }

  var BUILDERS = { needs: needsChart, lights: lightsChart, "public-months": publicMonthsChart };

  if (typeof window.echarts !== "undefined") {
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var build = BUILDERS[box.dataset.chart];
      if (!build) return;
      load(box.dataset.src).then(function (data) {
        var chart = window.echarts.init(box, null, { renderer: "svg" });
        chart.setOption(build(box, data));
        box.classList.add("chart-drawn");
        window.addEventListener("resize", function () { chart.resize(); });
      }).catch(function () { box.hidden = true; });
    });
  }

  var mapBox = document.getElementById("public-map");
  var figure = document.getElementById("public-map-figure");
  if (!mapBox || !figure || typeof window.L === "undefined") return;
  load(mapBox.dataset.src).then(function (data) {
    var shown = data.districts.filter(function (d) { return d.fulfilled; });
    if (!shown.length) return;
    figure.hidden = false;
    var map = window.L.map(mapBox, { scrollWheelZoom: false });
    var tiles = window.L.tileLayer(mapBox.dataset.tiles, { maxZoom: 12, attribution: mapBox.dataset.attribution });
    tiles.on("tileerror", function () { mapBox.classList.add("tiles-unavailable"); });
    tiles.addTo(map);
    var most = Math.max.apply(null, shown.map(function (d) { return d.fulfilled; }));
    var points = [];
    shown.forEach(function (d) {
      var text = document.createElement("span"); // text, not HTML
      text.textContent = d.name + ": " + d.fulfilled + " " + mapBox.dataset.label;
      window.L.circleMarker([d.lat, d.lng], { radius: 6 + 18 * Math.sqrt(d.fulfilled / most), weight: 1 })
        .bindPopup(text).addTo(map);
      points.push([d.lat, d.lng]);
    });
    map.fitBounds(points, { padding: [24, 24], maxZoom: 10 });
  }).catch(function () { figure.hidden = true; });
})();
