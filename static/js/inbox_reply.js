// FiG Safety: the reply box on a conversation.
// "Insert" puts the chosen saved reply where the cursor is (without this file the button sends the form
// back and the page adds it after what was typed), and the first focus on the reply box tells the server
// that someone is writing, so that a colleague who opens the conversation is warned.
(function () {
  "use strict";

  var TELL_AGAIN_AFTER = 2 * 60 * 1000; // while they keep writing, the warning stays fresh

  function setUp(form) {
    var text = form.querySelector("[data-reply-text]");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    var url = form.getAttribute("data-replying-url");
    var select = form.querySelector("[data-saved-select]");
    var insert = form.querySelector("[data-saved-insert]");
    var status = form.querySelector("[data-saved-status]");
    if (!text) return;

    var told = 0;
    var cursorKnown = false;

    function tell() {
      if (!url || !token || Date.now() - told < TELL_AGAIN_AFTER) return;
      told = Date.now();
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token.value },
      }).catch(function () {
        told = 0; // try again on the next focus
      });
    }

    text.addEventListener("focus", tell);
    ["focus", "click", "keyup", "select"].forEach(function (name) {
      text.addEventListener(name, function () {
        cursorKnown = true;
      });
    });

    if (!select || !insert) return;
    insert.addEventListener("click", function (event) {
      event.preventDefault();
      var option = select.options[select.selectedIndex];
      if (!option || !option.value) {
        if (status) status.textContent = "Choose a saved reply first.";
        select.focus();
        return;
      }
      var words = option.getAttribute("data-text") || "";
      var start = cursorKnown ? text.selectionStart : text.value.length;
      var end = cursorKnown ? text.selectionEnd : text.value.length;
      var before = text.value.slice(0, start);
      var after = text.value.slice(end);
      var lead = before === "" || /\s$/.test(before) ? "" : " ";
      var trail = after === "" || /^\s/.test(after) ? "" : " ";
      text.value = before + lead + words + trail + after;
      var caret = (before + lead + words).length;
      text.focus();
      text.setSelectionRange(caret, caret);
      text.dispatchEvent(new Event("input", { bubbles: true }));
      if (status) status.textContent = "Inserted “" + option.textContent + "”. Read it through before sending.";
      tell();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-reply-form]").forEach(setUp);
  });
})();
