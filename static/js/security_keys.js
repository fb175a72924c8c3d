// Security keys: allauth's webauthn.js runs the browser's key prompt; this file tells the person, in
// words, when that prompt fails or is cancelled (allauth only reports it as an "allauth.error" event),
// and hides the key buttons in a browser that cannot use keys at all.
(function () {
  "use strict";
  document.addEventListener("allauth.error", function (event) {
    var box = document.querySelector("[data-key-error]");
    var tags = (event.detail && event.detail.tags) || [];
    if (!box || tags.indexOf("webauthn") === -1) {
      return;
    }
    event.preventDefault();
    var name = event.detail.exception && event.detail.exception.name;
    var reasons = box.querySelectorAll("[data-key-error-reason]");
    var specific = box.querySelector('[data-key-error-reason="' + name + '"]');
    reasons.forEach(function (reason) {
      reason.hidden = specific ? reason !== specific : reason.dataset.keyErrorReason !== "other";
    });
    // Hide, then show again on the next frame, so a second failure is announced too.
    box.hidden = true;
    window.requestAnimationFrame(function () {
      box.hidden = false;
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (window.PublicKeyCredential) {
      return;
    }
    document.querySelectorAll("[data-key-action]").forEach(function (button) {
      button.hidden = true;
    });
    document.querySelectorAll("[data-key-unsupported]").forEach(function (note) {
      note.hidden = false;
    });
  });
})();
