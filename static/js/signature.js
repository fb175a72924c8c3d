// The consent form: an optional signature pad (finger, mouse or pen) and a helpful error summary.
// The typed name is the signature; without JavaScript the pad stays hidden and the form still works.
(function () {
  "use strict";

  function setUpPad(pad, field) {
    var canvas = pad.querySelector("canvas");
    var context = canvas.getContext("2d");
    var status = pad.querySelector("[data-signature-status]");
    var clear = pad.querySelector("[data-signature-clear]");
    var drawing = false;
    var drawn = false;
    var last = null;

    pad.hidden = false;
    context.lineWidth = 5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#1f2a2e";

    function say(text) {
      if (status) { status.textContent = text; }
    }
    function showState() {
      pad.classList.toggle("is-signed", drawn);
    }
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * (canvas.width / box.width),
        y: (event.clientY - box.top) * (canvas.height / box.height)
      };
    }

    // Coming back with an error message: show the signature that is still in the form.
    if (field.value.indexOf("data:image/png;base64,") === 0) {
      var image = new Image();
      image.onload = function () {
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        drawn = true;
        showState();
      };
      image.onerror = function () { field.value = ""; };  // unreadable: better none than a broken one
      image.src = field.value;
    }
    showState();

    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== undefined && event.button > 0) { return; }
      drawing = true;
      if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
      last = point(event);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      var p = point(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(p.x, p.y);
      context.stroke();
      last = p;
      drawn = true;
      event.preventDefault();
    });
    function finish() {
      if (!drawing) { return; }
      drawing = false;
      if (!drawn) { return; }  // a tap without a line is not a signature
      field.value = canvas.toDataURL("image/png");
      showState();
      say("Signature added.");
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("lostpointercapture", finish);
    clear.addEventListener("click", function () {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
      field.value = "";
      showState();
      say("Signature cleared.");
    });
  }

  function setUpErrorSummary(summary) {
    summary.focus();
    // A link to a yes/no question moves to its first answer and shows the whole question.
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) { return; }
        event.preventDefault();
        var question = target.closest("fieldset") || target.closest(".field") || target;
        question.scrollIntoView({ block: "start" });
        target.focus({ preventScroll: true });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pad = document.querySelector("[data-signature-pad]");
    var field = document.querySelector("input[name=signature]");
    if (pad && field) { setUpPad(pad, field); }
    var summary = document.getElementById("form-problems");
    if (summary) { setUpErrorSummary(summary); }
  });
})();
