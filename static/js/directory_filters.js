/* Directory filters: folded behind « Filtrer » on a phone (the first card then shows on the
   first screen), unfolded on a wider screen. Without JavaScript they stay one click away. */
(function () {
  "use strict";
  var fold = document.querySelector("[data-filters-fold]");
  if (!fold || !window.matchMedia) {
    return;
  }
  var wide = window.matchMedia("(min-width: 800px)");
  function follow() {
    fold.open = wide.matches;
  }
  follow();
  if (wide.addEventListener) {
    wide.addEventListener("change", follow);
  }
})();
