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

  var labels = config.labels || {};
  var map = L.map(container, { scrollWheelZoom: false, zoomControl: false });
  // Zoom buttons named in the page's language (Leaflet's own say « Zoom in »).
  L.control.zoom({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut }).addTo(map);
  map.fitBounds(config.bounds);
  if (config.tilesUrl) {
    L.tileLayer(config.tilesUrl, { attribution: config.attribution, maxZoom: 18 }).addTo(map);
  }
  var cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
  map.addLayer(cluster);

  // Keyboard: markers and clusters are buttons. Enter and Space act as a click (Leaflet only
  // turns a keypress of Enter into one, and markercluster none); markers and clusters clipped
  // outside the visible map leave the tab order; a cluster is named « N associations, agrandir ».
  var openedByKey = false;
  // A marker entirely under a control (the zoom buttons, the attribution) leaves it too: a
  // focused marker is never hidden (WCAG 2.2, 2.4.11 Focus Not Obscured).
  function underControl(box, controls) {
    for (var c = 0; c < controls.length; c++) {
      var r = controls[c].getBoundingClientRect();
      if (box.left >= r.left && box.right <= r.right && box.top >= r.top && box.bottom <= r.bottom) {
        return true;
      }
    }
    return false;
  }
  function tidyIcons() {
    var frame = container.getBoundingClientRect();
    var icons = container.querySelectorAll(".leaflet-marker-icon");
    var controls = container.querySelectorAll(".leaflet-control");
    for (var i = 0; i < icons.length; i++) {
      var icon = icons[i];
      var box = icon.getBoundingClientRect();
      var inside = box.right > frame.left && box.left < frame.right &&
        box.bottom > frame.top && box.top < frame.bottom &&
        box.left >= frame.left - 1 && box.right <= frame.right + 1 &&
        box.top >= frame.top - 1 && box.bottom <= frame.bottom + 1 &&
        !underControl(box, controls);
      icon.setAttribute("tabindex", inside ? "0" : "-1");
      icon.setAttribute("role", "button");
      if (icon.classList.contains("marker-cluster")) {
        var count = icon.textContent.trim();
        icon.setAttribute("aria-label", (labels.cluster || "%s").replace("%s", count));
        icon.removeAttribute("title");
      }
    }
  }
  // Debounced: markercluster adds thousands of layers while loading; tidy once afterwards.
  var tidyTimer = null;
  function tidySoon() {
    if (tidyTimer === null) {
      tidyTimer = window.setTimeout(function () { tidyTimer = null; tidyIcons(); }, 50);
    }
  }
  map.on("moveend zoomend layeradd", tidySoon);
  cluster.on("animationend", tidySoon);
  container.addEventListener("keydown", function (event) {
    var icon = event.target;
    if (!icon.classList || !icon.classList.contains("leaflet-marker-icon")) {
      return;
    }
    if (event.key === "Enter" || event.key === " " || event.key === "Spacebar") {
      event.preventDefault();  // no page scroll on Space, no second click from keypress
      event.stopPropagation();
      openedByKey = true;
      icon.click();
    }
  });

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
          if (openedByKey) {
            // The card follows the map in the page: take the keyboard user there.
            cardBox.setAttribute("tabindex", "-1");
            cardBox.focus();
          }
        }
        openedByKey = false;
        // Names are text, never HTML: build the popup as a text node.
        var label = document.createElement("strong");
        label.textContent = marker.options.title;
        marker.bindPopup(label, { autoPan: false });
        if (!cardBox) {
          marker.openPopup();
        }
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
      tidyIcons();
    });
})();
