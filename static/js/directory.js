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
  if (config.icons) {
    L.Icon.Default.imagePath = "";
    L.Icon.Default.mergeOptions(config.icons);
  }
  var map = L.map(container, { scrollWheelZoom: false, zoomControl: false });
  // Zoom buttons named in the page's language (Leaflet's own say « Zoom in »).
  L.control.zoom({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut }).addTo(map);
  map.fitBounds(config.bounds);

  // Without a background map (no tile server configured, or its tiles fail before any has
  // loaded: offline, blocked, down) the map still orients people: the local banks' towns are
  // named at their places, and a status message says the background is missing.
  var notice = document.getElementById("map-notice");
  var placesShown = false;
  function showPlaces() {
    if (placesShown) {
      return;
    }
    placesShown = true;
    if (notice) {
      notice.textContent = labels.noTiles || "";
    }
    container.classList.add("without-tiles");
    // Their own pane, under the markers; not interactive, so clicks reach the markers.
    map.createPane("places").style.zIndex = 450;
    (config.places || []).forEach(function (place) {
      var name = document.createElement("span");
      name.textContent = place[0];  // text, never HTML
      L.tooltip({ permanent: true, direction: "center", className: "map-place", pane: "places" })
        .setLatLng([place[1], place[2]])
        .setContent(name)
        .addTo(map);
    });
  }
  if (config.tilesUrl) {
    var tilesLoaded = false;
    L.tileLayer(config.tilesUrl, { attribution: config.attribution, maxZoom: 18 })
      .on("tileload", function () { tilesLoaded = true; })
      .on("tileerror", function () {
        if (!tilesLoaded) {
          showPlaces();
        }
      })
      .addTo(map);
  } else {
    showPlaces();
  }

  var whenClustered = null;  // set once the markers are known
  // Clustering about 2,800 markers is the page's heaviest work: markercluster adds them in
  // chunks of at most chunkInterval ms, yielding to the browser between chunks, so no task is
  // long enough to delay a tap (a task over 50 ms blocks; on a phone, about four times slower
  // than this machine's measure, 10 ms here is about 40 ms there).
  var cluster = L.markerClusterGroup({
    chunkedLoading: true,
    chunkInterval: 10,
    chunkDelay: 10,
    chunkProgress: function (processed, total) {
      if (processed === total && whenClustered) {
        whenClustered();
      }
    },
    showCoverageOnHover: false
  });
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

  // After the first paint: the page (and the map's frame, its size reserved by the CSS) shows
  // first, then the markers come.
  function afterPaint() {
    return new Promise(function (resolve) {
      window.requestAnimationFrame(function () { window.setTimeout(resolve, 0); });
    });
  }

  fetch(config.mapDataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      return response.json();
    })
    .then(function (data) {
      return afterPaint().then(function () { return data; });
    })
    .then(function (data) {
      var rows = data.rows;
      // The view first (from the rows, not the cluster, which fills in chunks), so markers
      // are clustered once, at the zoom they are shown at.
      if (rows.length) {
        var bounds = L.latLngBounds(rows.map(function (row) { return [row[1], row[2]]; }));
        map.fitBounds(bounds, { maxZoom: 13, padding: [20, 20], animate: false });
      }
      whenClustered = function () {
        container.setAttribute("data-markers", String(rows.length));
        tidyIcons();
      };
      if (!rows.length) {
        whenClustered();
        return;
      }
      // The markers are made in slices too, each in its own short task, then clustered.
      var markers = [];
      var SLICE = 400;
      function makeSlice(start) {
        rows.slice(start, start + SLICE).forEach(function (row) {
          var marker = L.marker([row[1], row[2]], { title: row[3], alt: row[3], keyboard: true });
          marker.on("click", function () {
            showCard(row[0], marker);
          });
          markers.push(marker);
        });
        if (start + SLICE < rows.length) {
          window.setTimeout(function () { makeSlice(start + SLICE); }, 0);
        } else {
          window.setTimeout(function () { cluster.addLayers(markers, true); }, 0);
        }
      }
      makeSlice(0);
    });
})();
