// FiG Safety: "Copy text" beside each channel to publish by hand on a post's page. Without this file the
// button stays hidden and the text is in a read-only box to select and copy by hand.
(function () {
  "use strict";

  function copyWithSelection(box) {
    box.focus();
    box.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function setUp(button) {
    var box = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!box) return;
    function say(words) {
      if (status) status.textContent = words;
    }
    function done(copied) {
      say(copied ? "Copied. Paste it on the platform." : "It could not be copied: select the text above and copy it.");
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      say("");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(box.value).then(
          function () {
            done(true);
          },
          function () {
            done(copyWithSelection(box));
          }
        );
      } else {
        done(copyWithSelection(box));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(setUp);
  });
})();
