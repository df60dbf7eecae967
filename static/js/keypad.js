/* Virtual keypad (templates/accounts/_keypad.html).
 *
 * The digits are shown at shuffled positions; what is posted is the positions, which the
 * server maps back with the layout it kept in the session. Digits typed on a keyboard are
 * mapped to the position where that digit is shown, so keyboard entry posts the same thing.
 *
 * Beside the keys, a code field that a password manager fills or a person pastes into
 * (WCAG 2.2, 3.3.8). A form posts one way only: using the field empties the keypad, pressing a
 * key empties the field. Six digits pasted outside the field are typed on the keypad.
 */
(function () {
  "use strict";

  function setup(root, listenToKeyboard) {
    var length = parseInt(root.getAttribute("data-length"), 10) || 6;
    var field = root.querySelector("[data-keypad-positions]");
    var status = root.querySelector("[data-keypad-status]");
    var submit = root.querySelector("[data-keypad-submit]");
    var dots = root.querySelectorAll(".keypad-dot");
    var keys = root.querySelectorAll("[data-position]");
    var form = root.closest("form");
    var code = root.querySelector("[data-keypad-code]");
    var positions = [];

    function announce() {
      var n = positions.length;
      var text;
      if (n === 0) text = root.getAttribute("data-status-zero");
      else if (n === 1) text = root.getAttribute("data-status-one");
      else if (n >= length) text = root.getAttribute("data-status-done");
      else text = root.getAttribute("data-status-many").replace("{n}", String(n));
      status.textContent = text;
    }

    function render() {
      field.value = positions.join("");
      for (var i = 0; i < dots.length; i++) {
        dots[i].classList.toggle("is-filled", i < positions.length);
      }
      // The field's value is not judged here: a bad one gets the server's message next to it.
      submit.disabled = positions.length !== length && !(code && code.value.trim());
      announce();
    }

    function press(position) {
      if (positions.length >= length) return;
      if (code) code.value = "";
      positions.push(position);
      render();
    }

    function positionOf(digit) {
      for (var i = 0; i < keys.length; i++) {
        if (keys[i].textContent.trim() === digit) return keys[i];
      }
      return null;
    }

    if (code) {
      // A pasted code replaces what the field held, without the spaces copied around it.
      code.addEventListener("paste", function (event) {
        var data = event.clipboardData ? event.clipboardData.getData("text") : "";
        if (!data) return;
        event.preventDefault();
        code.value = data.replace(/\s+/g, "");
        code.dispatchEvent(new Event("input", { bubbles: true }));
      });
      // "input" for typing and pasting, "change" for the managers that fill without it.
      ["input", "change"].forEach(function (name) {
        code.addEventListener(name, function () {
          if (code.value) positions = [];
          render();
        });
      });
    }

    function erase() {
      positions.pop();
      render();
    }

    function clear() {
      positions = [];
      render();
    }

    function flash(button) {
      button.classList.add("is-pressed");
      window.setTimeout(function () { button.classList.remove("is-pressed"); }, 150);
    }

    keys.forEach(function (button) {
      button.addEventListener("click", function () {
        press(button.getAttribute("data-position"));
      });
    });
    root.querySelector("[data-keypad-erase]").addEventListener("click", erase);
    root.querySelector("[data-keypad-clear]").addEventListener("click", clear);

    if (listenToKeyboard) {
      document.addEventListener("keydown", function (event) {
        var target = event.target;
        if (event.ctrlKey || event.altKey || event.metaKey) return;
        if (target && target.matches && target.matches("input:not([type=hidden]), textarea, select")) return;
        if (/^[0-9]$/.test(event.key)) {
          var key = positionOf(event.key);
          if (key) {
            event.preventDefault();
            press(key.getAttribute("data-position"));
            flash(key);
          }
        } else if (event.key === "Backspace") {
          event.preventDefault();
          erase();
        } else if (event.key === "Escape") {
          clear();
        } else if (event.key === "Enter") {
          var onButton = target && target.tagName === "BUTTON";
          if (!onButton && positions.length === length && form) {
            event.preventDefault();
            if (form.requestSubmit) form.requestSubmit(submit);
            else form.submit();
          }
        }
      });
    }

    if (listenToKeyboard) {
      // Pasting the code outside a text field types it on the keypad (spaces are ignored).
      document.addEventListener("paste", function (event) {
        var target = event.target;
        if (target && target.matches && target.matches("input:not([type=hidden]), textarea, select")) return;
        var data = event.clipboardData ? event.clipboardData.getData("text") : "";
        var digits = data.replace(/\s+/g, "");
        if (!/^[0-9]+$/.test(digits) || digits.length !== length) return;
        event.preventDefault();
        clear();
        for (var i = 0; i < digits.length; i++) {
          var key = positionOf(digits.charAt(i));
          if (key) press(key.getAttribute("data-position"));
        }
      });
    }

    // A page shown again from the back/forward cache must not keep typed positions (nor a
    // typed code: the browser may restore the field).
    window.addEventListener("pageshow", function (event) {
      if (code && event.persisted) code.value = "";
      clear();
    });
    render();
    return root;
  }

  function init() {
    var pads = document.querySelectorAll("[data-keypad]");
    pads.forEach(function (root, index) { setup(root, index === 0); });
    if (pads.length && !document.querySelector("[autofocus]")) pads[0].focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
