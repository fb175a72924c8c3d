// The photo page's faces. Everything works without this file: a coordinator types the box of a face
// FiG Safety missed (in the photo's own pixels) and posts it. With it, they can also press "Draw on the
// photo" and drag a box over the face with a mouse, a pen or a finger (Pointer Events), which fills in
// the same numbers; typed numbers show as a box on the photo. The numbers are what is sent, either way.
(function () {
  "use strict";

  var MIN_SIZE = 4; // as FaceBoxForm: smaller is a slip of the finger, not a face

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function setUpDrawing(form, svg) {
    var width = svg.viewBox.baseVal.width;
    var height = svg.viewBox.baseVal.height;
    var preview = svg.querySelector("[data-new-box]");
    var toggle = form.querySelector("[data-draw-toggle]");
    var status = form.querySelector("[data-draw-status]");
    var inputs = ["x", "y", "w", "h"].map(function (name) { return form.elements[name]; });
    if (!width || !height || !preview || !toggle || inputs.some(function (input) { return !input; })) { return; }
    var start = null;
    var pointer = null;

    form.querySelectorAll("[data-draw-only]").forEach(function (element) { element.hidden = false; });

    function say(text) {
      if (status) { status.textContent = text; }
    }

    // Client (screen) coordinates to the photo's pixels, through the SVG's own transform: right however
    // the photo is scaled to fit the screen.
    function toImage(event) {
      var matrix = svg.getScreenCTM();
      if (!matrix) { return null; }
      var point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      point = point.matrixTransform(matrix.inverse());
      return { x: clamp(point.x, 0, width), y: clamp(point.y, 0, height) };
    }

    function boxBetween(a, b) {
      var left = Math.floor(Math.min(a.x, b.x));
      var top = Math.floor(Math.min(a.y, b.y));
      var right = Math.min(width, Math.ceil(Math.max(a.x, b.x)));
      var bottom = Math.min(height, Math.ceil(Math.max(a.y, b.y)));
      return { x: left, y: top, w: right - left, h: bottom - top };
    }

    function show(box) {
      if (!box) {
        preview.classList.remove("is-shown");
        return;
      }
      preview.setAttribute("x", box.x);
      preview.setAttribute("y", box.y);
      preview.setAttribute("width", box.w);
      preview.setAttribute("height", box.h);
      preview.classList.add("is-shown");
    }

    function typedBox() {
      var values = inputs.map(function (input) { return input.value === "" ? NaN : Number(input.value); });
      if (values.some(function (value) { return !isFinite(value); }) || values[2] <= 0 || values[3] <= 0) {
        return null;
      }
      return { x: values[0], y: values[1], w: values[2], h: values[3] };
    }

    function fill(box) {
      inputs[0].value = box.x;
      inputs[1].value = box.y;
      inputs[2].value = box.w;
      inputs[3].value = box.h;
    }

    function setDrawing(on) {
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      svg.classList.toggle("is-drawing", on);
    }

    toggle.addEventListener("click", function () {
      var on = toggle.getAttribute("aria-pressed") !== "true";
      setDrawing(on);
      if (on) {
        svg.scrollIntoView({ block: "nearest" });
        say("Drag a box over the face on the photo.");
      } else {
        say("");
      }
    });

    inputs.forEach(function (input) {
      input.addEventListener("input", function () { show(typedBox()); });
    });

    svg.addEventListener("pointerdown", function (event) {
      if (!svg.classList.contains("is-drawing") || pointer !== null || event.button !== 0) { return; }
      start = toImage(event);
      if (!start) { return; }
      event.preventDefault();
      pointer = event.pointerId;
      svg.setPointerCapture(pointer);
      show(boxBetween(start, start));
    });

    svg.addEventListener("pointermove", function (event) {
      if (event.pointerId !== pointer) { return; }
      var here = toImage(event);
      if (here) { show(boxBetween(start, here)); }
    });

    function finish(event, cancelled) {
      if (event.pointerId !== pointer) { return; }
      pointer = null;
      var here = cancelled ? null : toImage(event);
      var box = here && boxBetween(start, here);
      start = null;
      if (!box || box.w < MIN_SIZE || box.h < MIN_SIZE) {
        show(typedBox());
        if (!cancelled) { say("That box is too small: drag from one corner of the face to the other."); }
        return;
      }
      fill(box);
      show(box);
      say("Box drawn: " + box.x + " pixels from the left, " + box.y + " from the top, " + box.w + " wide and " +
        box.h + " high. Add the face to blur it, or drag again.");
    }

    svg.addEventListener("pointerup", function (event) { finish(event, false); });
    svg.addEventListener("pointercancel", function (event) { finish(event, true); });
    show(typedBox());
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("unidentifiable");
    if (!section) { return; }
    // The faces' forms come back to #unidentifiable, below the page's messages: the message about what
    // just happened is moved next to the photo, where the person is looking.
    var messages = document.querySelector("main > .messages");
    if (messages && window.location.hash === "#unidentifiable") {
      section.insertBefore(messages, section.firstChild);
    }
    var form = section.querySelector("[data-face-form]");
    var svg = section.querySelector("[data-face-boxes]");
    if (form && svg && window.PointerEvent && svg.createSVGPoint) { setUpDrawing(form, svg); }
  });
})();
