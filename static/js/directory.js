/* Directory map: markers (clustered) from the map-data endpoint; a marker opens its card.
   Progressive enhancement: without JavaScript the page offers the list instead. */
(function () {
  "use strict";
  var configElement = document.getElementById("directory-map-config");
  var container = document.getElementById("directory-map");
  if (!configElement || !container || typeof L === "undefined") {
    return;
  }
  var config = JSON.parse(configElement.textContent);
  var cardBox = document.getElementById("map-card");
  container.classList.add("is-live");

  var map = L.map(container, { scrollWheelZoom: false });
  map.fitBounds(config.bounds);
  if (config.tilesUrl) {
    L.tileLayer(config.tilesUrl, { attribution: config.attribution, maxZoom: 18 }).addTo(map);
  }
  var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
  map.addLayer(cluster);

  var here = window.location.pathname + window.location.search;

  function showCard(id, marker) {
    var url = config.cardUrl.replace("/0/", "/" + id + "/") + "?next=" + encodeURIComponent(here);
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (cardBox) {
          cardBox.innerHTML = html;
          cardBox.classList.add("is-open");
        }
        // Names are text, never HTML: build the popup as a text node.
        var label = document.createElement("strong");
        label.textContent = marker.options.title;
        marker.bindPopup(label).openPopup();
      })
      .catch(function () {
        if (cardBox) {
          cardBox.textContent = "Impossible d’afficher cette association.";
        }
      });
  }

  fetch(config.mapDataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      return response.json();
    })
    .then(function (data) {
      var markers = data.rows.map(function (row) {
        var marker = L.marker([row[1], row[2]], { title: row[3], alt: row[3], keyboard: true });
        marker.on("click", function () {
          showCard(row[0], marker);
        });
        return marker;
      });
      cluster.addLayers(markers);
      container.setAttribute("data-markers", String(markers.length));
      if (markers.length) {
        map.fitBounds(cluster.getBounds(), { maxZoom: 13, padding: [20, 20] });
      }
    });
})();
