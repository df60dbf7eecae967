// Registration wizard keypad: builds the « positions » string from the shuffled keys.
// Digits typed on a keyboard are mapped to the position of the key showing that digit.
(function () {
  "use strict";
  var keypad = document.querySelector("[data-reg-keypad]");
  if (!keypad) return;
  var input = keypad.querySelector("input[name=positions]");
  var dots = keypad.querySelector("[data-reg-keypad-dots]");
  var count = keypad.querySelector("[data-reg-keypad-count]");
  var keys = Array.prototype.slice.call(keypad.querySelectorAll("[data-position]"));
  var LENGTH = 6;
  input.value = "";

  function render() {
    var n = input.value.length;
    dots.textContent = "●".repeat(n) + "_".repeat(LENGTH - n);
    count.textContent = n + "/" + LENGTH;
  }
  function press(position) {
    if (input.value.length < LENGTH) input.value += position;
    render();
  }
  function erase() {
    input.value = input.value.slice(0, -1);
    render();
  }
  keys.forEach(function (key) {
    key.addEventListener("click", function () { press(key.dataset.position); });
  });
  keypad.querySelector("[data-reg-keypad-clear]").addEventListener("click", function () {
    input.value = "";
    render();
  });
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    if (/^[0-9]$/.test(event.key)) {
      var key = keys.filter(function (k) { return k.textContent.trim() === event.key; })[0];
      if (key) { press(key.dataset.position); event.preventDefault(); }
    } else if (event.key === "Backspace") {
      erase();
      event.preventDefault();
    }
  });
  render();
})();
