// The needs list: "near me" from the browser's location, and a map of the needs shown.
// Both are extras: without JavaScript (or without Leaflet, or without map tiles) the
// search form, the district "Near" choice and the list work the same.
(function () {
  // Tiles from AutoNavi (Gaode) or Tencent are drawn in GCJ-02, the mainland's shifted
  // datum; our points are WGS-84. The published conversion (a few hundred metres).
  function wgs84ToGcj02(lat, lng) {
    var a = 6378245.0, ee = 0.00669342162296594323, PI = Math.PI;
    function tLat(x, y) {
      var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
      r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
      r += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
      r += (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
      return r;
    }
    function tLng(x, y) {
      var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
      r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
      r += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
      r += (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
      return r;
    }
    var dLat = tLat(lng - 105, lat - 35), dLng = tLng(lng - 105, lat - 35);
    var radLat = lat / 180 * PI, magic = 1 - ee * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180) / ((a * (1 - ee)) / (magic * sqrtMagic) * PI);
    dLng = (dLng * 180) / (a / sqrtMagic * Math.cos(radLat) * PI);
    return [lat + dLat, lng + dLng];
  }

  "use strict";

  var form = document.getElementById("needs-search");
  var nearMe = document.getElementById("near-me");
  var status = document.getElementById("near-me-status");

  function setHidden(form, name, value) {
    var input = form.querySelector("input[type=hidden][name=" + name + "]");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  if (form && nearMe && "geolocation" in navigator) {
    nearMe.hidden = false;
    nearMe.addEventListener("click", function () {
      nearMe.disabled = true;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          // Three decimals (about 100 m) is plenty to find needs nearby.
          setHidden(form, "lat", position.coords.latitude.toFixed(3));
          setHidden(form, "lng", position.coords.longitude.toFixed(3));
          form.querySelector("select[name=near]").value = "";
          var sort = form.querySelector("select[name=sort]");
          if (!sort.value) sort.value = "distance";
          form.submit();
        },
        function () {
          nearMe.disabled = false;
          status.textContent = nearMe.dataset.failed;
          status.hidden = false;
        },
        { timeout: 10000, maximumAge: 600000 }
      );
    });
    // Choosing a district replaces the browser's location.
    form.querySelector("select[name=near]").addEventListener("change", function () {
      form.querySelectorAll("input[type=hidden][name=lat], input[type=hidden][name=lng]")
        .forEach(function (input) { input.remove(); });
    });
  }

  var figure = document.getElementById("needs-map-figure");
  var box = document.getElementById("needs-map");
  var data = document.getElementById("needs-map-data");
  if (!figure || !box || !data || typeof window.L === "undefined") return;
  var needs = JSON.parse(data.textContent);
  if (!needs.length) return;
  figure.hidden = false;

  var map = window.L.map(box, { scrollWheelZoom: false });
  var tiles = window.L.tileLayer(box.dataset.tiles, {
    maxZoom: 18,
    attribution: box.dataset.attribution,
    subdomains: box.dataset.subdomains || "abc",
  });
  tiles.on("tileerror", function () {
    // Markers stay; the background stays plain, and the visitor is told why.
    box.classList.add("tiles-unavailable");
    var failed = document.getElementById("map-tiles-failed");
    if (failed) failed.hidden = false;
  });
  tiles.addTo(map);

  // Public locations are grid-cell centres, so several needs often share one: one
  // marker per place, its popup listing every need there.
  var places = {};
  var points = [];
  needs.forEach(function (need) {
    if (box.dataset.coords === "gcj02") {
      var shifted = wgs84ToGcj02(need.lat, need.lng);
      need = Object.assign({}, need, { lat: shifted[0], lng: shifted[1] });
    }
    var key = need.lat + "," + need.lng;
    if (!places[key]) {
      places[key] = document.createElement("ul");
      places[key].className = "map-needs";
      window.L.circleMarker([need.lat, need.lng], { radius: 8, weight: 2 })
        .bindPopup(places[key])
        .addTo(map);
      points.push([need.lat, need.lng]);
    }
    var item = document.createElement("li");
    var link = document.createElement("a"); // text, not HTML: titles are never markup
    link.href = need.url;
    link.textContent = need.title;
    item.appendChild(link);
    places[key].appendChild(item);
  });
  map.fitBounds(points, { padding: [24, 24], maxZoom: 12 });
})();
