// « VALIDER LA DEMANDE »: disable the button once the form is sent, so a double click posts
// once. The server gives once anyway (one-time token); this only spares a second request.
document.querySelectorAll("form[data-give-form]").forEach(function (form) {
  form.addEventListener("submit", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  });
});
