// FiG Safety: small progressive enhancements. Every page works without this file:
// without it the menu simply stays open on small screens.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".nav-toggle");
    var list = document.getElementById("nav-list");
    if (toggle && list) {
      toggle.addEventListener("click", function () {
        var open = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", open ? "false" : "true");
        list.classList.toggle("open", !open);
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
          toggle.setAttribute("aria-expanded", "false");
          list.classList.remove("open");
          toggle.focus();
        }
      });
    }
    // Forms marked data-once disable their submit button after the first click,
    // so a double tap on a phone sends one request.
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.disabled = true;
        });
      });
    });
    // An error summary takes the focus, as on the parents' form, so a screen reader starts with what went wrong;
    // each of its links moves to the box (showing its label and hint too) and puts the cursor in it.
    var problems = document.querySelector("[data-focus-on-load]");
    if (problems) {
      problems.focus();
      problems.querySelectorAll("a[href^='#']").forEach(function (link) {
        link.addEventListener("click", function (event) {
          var target = document.getElementById(link.getAttribute("href").slice(1));
          if (!target) {
            return;
          }
          event.preventDefault();
          (target.closest(".field") || target).scrollIntoView({ block: "start" });
          target.focus({ preventScroll: true });
        });
      });
    }
    // "Print these codes" on the recovery codes page.
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    });
  });
})();

// A page restored from the back/forward cache gets its submit buttons back.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    document.querySelectorAll("form[data-once] button[type=submit]").forEach(function (button) {
      button.disabled = false;
    });
  }
});
