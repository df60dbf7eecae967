// « VALIDER LA DEMANDE »: disable the button once the form is sent, so a double click posts
// once. The server gives once anyway (one-time token); this only spares a second request.
document.querySelectorAll("form[data-give-form]").forEach(function (form) {
  form.addEventListener("submit", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  });
});

// « Vous allez donner X K à … »: the sentence above the button follows the amount typed, in
// the site's money format (narrow no-break spaces between thousands).
document.querySelectorAll("form[data-give-form]").forEach(function (form) {
  var input = form.querySelector("input[name=amount]");
  var summary = form.querySelector("[data-give-summary]");
  if (!input || !summary) {
    return;
  }
  function format(amount) {
    return String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f") + "\u00a0K";
  }
  input.addEventListener("input", function () {
    var raw = input.value.replace(/\s/g, "");
    if (/^[0-9]+$/.test(raw) && parseInt(raw, 10) > 0) {
      summary.textContent = summary.getAttribute("data-template").replace("{amount}", format(parseInt(raw, 10)));
    } else {
      summary.textContent = summary.getAttribute("data-invalid");
    }
  });
});

// « Votre don de X K sera complété de Y K »: what the matching offer adds to the amount typed,
// by the server's rule (matching.FormPreview.adds): the best offer's ratio, rounded down, cut
// by what it still allows. The gift itself decides, under the offer's lock.
document.querySelectorAll("form[data-give-form]").forEach(function (form) {
  var input = form.querySelector("input[name=amount]");
  var line = form.querySelector("[data-give-match]");
  if (!input || !line) {
    return;
  }
  var offers = JSON.parse(line.getAttribute("data-offers") || "[]");
  function format(amount) {
    return String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f") + "\u00a0K";
  }
  input.addEventListener("input", function () {
    var raw = input.value.replace(/\s/g, "");
    var amount = /^[0-9]+$/.test(raw) ? parseInt(raw, 10) : 0;
    var adds = 0;
    offers.forEach(function (offer) {
      adds = Math.max(adds, Math.min(Math.floor((amount * offer[0]) / offer[1]), offer[2]));
    });
    if (amount > 0 && adds > 0) {
      line.textContent = line.getAttribute("data-template")
        .replace("{amount}", format(amount)).replace("{match}", format(adds));
    } else {
      line.textContent = line.getAttribute("data-none");
    }
  });
});
