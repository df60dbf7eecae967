// Registration wizard, address step: a draggable marker keeps the latitude/longitude fields
// in step; typing coordinates moves the marker. The fields work on their own without JS.
// No dragging is needed (WCAG 2.2, 2.5.7): a click or tap on the map places the marker, the
// arrow keys move it, and the coordinates can be typed.
(function () {
  "use strict";
  var holder = document.getElementById("registration-map");
  var configNode = document.getElementById("registration-map-config");
  if (!holder || !configNode || typeof L === "undefined") return;
  var config = JSON.parse(configNode.textContent);
  var lat = document.getElementById("id_latitude");
  var lng = document.getElementById("id_longitude");

  var map = L.map(holder);
  L.tileLayer(config.tiles, { attribution: config.attribution, maxZoom: 18 }).addTo(map);
  var bounds = L.latLngBounds(config.bounds);
  L.rectangle(bounds, { color: "#007461", weight: 1, fill: false, interactive: false }).addTo(map);
  var start = config.marker || config.center;
  if (config.marker || config.local) map.setView(start, 13); else map.fitBounds(bounds);
  var marker = L.marker(start, { draggable: true, keyboard: true, title: holder.getAttribute("aria-label") }).addTo(map);

  function round(x) { return Math.round(x * 1e6) / 1e6; }
  function write(position) {
    lat.value = round(position.lat);
    lng.value = round(position.lng);
    lat.dispatchEvent(new Event("change"));
  }
  marker.on("dragend", function () { write(marker.getLatLng()); });
  map.on("click", function (event) { marker.setLatLng(event.latlng); write(event.latlng); });
  function read() {
    var a = parseFloat(lat.value), b = parseFloat(lng.value);
    if (!isNaN(a) && !isNaN(b)) { marker.setLatLng([a, b]); map.panTo([a, b]); }
  }
  lat.addEventListener("input", read);
  lng.addEventListener("input", read);
  // The marker's position is the answer: fill the fields with where it starts (the local
  // bank), so the step is never refused for coordinates the president cannot see.
  if (!config.marker) write(marker.getLatLng());
  // Keyboard: the arrow keys move the focused marker (about 50 m a press).
  var icon = marker.getElement();
  if (icon) {
    icon.addEventListener("keydown", function (event) {
      var step = 0.0005, here = marker.getLatLng(), moved = null;
      if (event.key === "ArrowUp") moved = [here.lat + step, here.lng];
      else if (event.key === "ArrowDown") moved = [here.lat - step, here.lng];
      else if (event.key === "ArrowLeft") moved = [here.lat, here.lng - step];
      else if (event.key === "ArrowRight") moved = [here.lat, here.lng + step];
      if (!moved) return;
      event.preventDefault();
      event.stopPropagation();
      marker.setLatLng(moved);
      write(marker.getLatLng());
      // Keep the focused marker in view and clear of the zoom buttons (WCAG 2.2, 2.4.11).
      map.panInside(moved, { paddingTopLeft: [60, 90], paddingBottomRight: [40, 40] });
    });
  }
})();
