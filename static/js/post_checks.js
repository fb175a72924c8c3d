// FiG Safety: the policy checks beside a post while it is written.
// Sends the text and the chosen photos to the server a moment after typing stops, and shows each
// finding (title, plain explanation, what was found) in the live region next to the text.
// Without this file the same checks show when the draft is saved.
(function () {
  "use strict";

  var DELAY = 500;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderFinding(finding) {
    var item = el("li", "finding" + (finding.dismissible ? "" : " finding-blocking"));
    var title = el("h3", "finding-title", finding.title);
    if (!finding.dismissible) {
      title.appendChild(document.createTextNode(" "));
      title.appendChild(el("span", "badge badge-danger", "Cannot be dismissed"));
    }
    item.appendChild(title);
    item.appendChild(el("p", "finding-why", finding.explanation));
    if (finding.matches && finding.matches.length) {
      var found = el("p", "finding-matches");
      found.appendChild(el("span", "finding-found", "Found:"));
      found.appendChild(document.createTextNode(" "));
      finding.matches.forEach(function (match, index) {
        if (index) found.appendChild(document.createTextNode(", "));
        found.appendChild(el("mark", "", match));
      });
      item.appendChild(found);
    }
    return item;
  }

  function setUp(form) {
    var url = form.getAttribute("data-live-check");
    var text = form.querySelector("[data-check-text]");
    var region = form.querySelector("[data-checks]");
    var summary = form.querySelector("[data-checks-summary]");
    var list = form.querySelector("[data-checks-list]");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!url || !text || !region || !summary || !list || !token) return;

    var timer = null;
    var sent = 0;
    var shown = null; // what the region shows now, so an unchanged answer is not announced again

    function show(answer) {
      var key = JSON.stringify(answer);
      if (key === shown) return;
      shown = key;
      summary.textContent = answer.summary;
      list.replaceChildren.apply(list, answer.findings.map(renderFinding));
    }

    function check() {
      var body = new URLSearchParams();
      body.append("text", text.value);
      form.querySelectorAll("[data-check-photo]:checked").forEach(function (box) {
        body.append("photos", box.value);
      });
      var number = ++sent;
      region.setAttribute("aria-busy", "true");
      fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token.value, Accept: "application/json" },
      })
        .then(function (response) {
          if (response.status === 429 || response.status === 503) {
            // Too many checks in a short time, or the checks paused: say so in the server's words.
            return response.json().then(function (answer) { return { summary: answer.error, findings: [] }; });
          }
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (answer) {
          if (number === sent) show(answer); // an older answer arriving late is dropped
        })
        .catch(function () {
          if (number === sent) {
            show({ summary: "The checks could not run just now. They run again when you save.", findings: [] });
          }
        })
        .finally(function () {
          if (number === sent) region.removeAttribute("aria-busy");
        });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, DELAY);
    }

    text.addEventListener("input", later);
    form.querySelectorAll("[data-check-photo]").forEach(function (box) {
      box.addEventListener("change", later);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-live-check]").forEach(setUp);
    // An error summary takes the focus, so a screen reader starts with what went wrong.
    var problem = document.querySelector("[data-focus-on-load]");
    if (problem) problem.focus();
  });
})();
