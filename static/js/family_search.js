// Finding a family as you type: the family list, the upload page's family choice, the gallery's family
// filter and "who may I photograph today". Every one works without this file: its form submits and the
// page comes back with the matches. With it, a moment after each keystroke the page asks the server for
// the matches (the same address, as JSON: {count, html}), puts the list in place and says how many match
// in the form's live region.
(function () {
  "use strict";

  var WAIT_MS = 250;

  function setUp(form) {
    var input = form.querySelector("[data-family-search-input]");
    var results = document.getElementById(form.getAttribute("data-family-search"));
    var count = document.getElementById(form.getAttribute("data-family-search-count"));
    if (!input || !results || !window.fetch || !window.URLSearchParams || !window.FormData) { return; }
    var timer = null;
    var asked = 0;

    function search() {
      var params = new URLSearchParams(new FormData(form)).toString();
      var address = (form.getAttribute("action") || window.location.pathname) + (params ? "?" + params : "");
      var ticket = ++asked;
      window.fetch(address, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("search failed: " + response.status); }
          return response.json();
        })
        .then(function (found) {
          if (ticket !== asked) { return; } // a later keystroke's answer is on its way
          results.innerHTML = found.html; // rendered by our own templates, with everything escaped
          if (count) { count.textContent = found.count; }
        })
        .catch(function () {
          // Nothing changes: the form still submits.
        });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, WAIT_MS);
    });
    form.querySelectorAll("[data-family-search-refresh]").forEach(function (control) {
      control.addEventListener("change", search);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-family-search]").forEach(setUp);
  });
})();
