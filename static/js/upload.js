// The photo vault's upload page and upload status page. Both work without this file:
// the family form has a "Show children" button, the upload form posts normally, and the
// status page has a "Check again" link. With it: the children appear as soon as a family
// is chosen, the upload shows a progress bar, and the status page updates itself.
(function () {
  "use strict";

  var POLL_EVERY_MS = 2000;

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  // --- Upload page -----------------------------------------------------------------------

  function setUpFamilyPicker(form) {
    var select = form.querySelector("[data-family-select]");
    if (!select) { return; }
    // The hint beside the list says that choosing a family shows its children (WCAG 3.2.2).
    select.addEventListener("change", function () {
      if (select.value) { form.submit(); }
    });
  }

  // "Keep only a version with every face blurred" goes with "No child can be identified": it shows only
  // while that is ticked, and is unticked when it hides. Without this file both simply show.
  function setUpBlurChoice(form) {
    var choice = form.querySelector("[data-blur-choice]");
    var noChild = form.elements.no_child_identifiable;
    var blur = form.elements.blur_faces;
    if (!choice || !noChild || !blur) { return; }
    function update() {
      choice.hidden = !noChild.checked;
      if (!noChild.checked) { blur.checked = false; }
    }
    noChild.addEventListener("change", update);
    update();
  }

  function chosenFiles(form) {
    var files = [];
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      for (var i = 0; i < input.files.length; i += 1) { files.push(input.files[i]); }
    });
    return files;
  }

  function setUpUploadForm(form) {
    if (!window.FormData || !window.XMLHttpRequest) { return; }
    var progressBox = form.querySelector("[data-upload-progress]");
    var bar = progressBox && progressBox.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    var summary = document.getElementById("upload-problems");
    var errorList = summary && summary.querySelector("[data-upload-errors]");
    var buttons = form.querySelectorAll("button[type=submit]");
    var busy = false;

    function say(text) {
      if (status) { status.textContent = text; }
    }
    function setBusy(on) {
      busy = on;
      buttons.forEach(function (button) { button.disabled = on; });
      form.setAttribute("aria-busy", on ? "true" : "false");
    }
    function showErrors(messages) {
      setBusy(false);
      if (progressBox) { progressBox.hidden = true; }
      say("");
      if (!summary || !errorList) { return; }
      errorList.textContent = "";
      messages.forEach(function (message) {
        var item = document.createElement("li");
        item.textContent = message;
        errorList.appendChild(item);
      });
      summary.hidden = false;
      summary.focus();
    }
    function clearErrors() {
      if (summary) { summary.hidden = true; }
      if (errorList) { errorList.textContent = ""; }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      clearErrors();
      var files = chosenFiles(form);
      if (!files.length) {
        showErrors(["Choose at least one photo."]);
        return;
      }
      var request = new XMLHttpRequest();
      var lastSpoken = -1;
      setBusy(true);
      if (bar) {
        bar.max = 100;
        bar.value = 0;
        bar.textContent = "0%";
      }
      if (progressBox) { progressBox.hidden = false; }
      say("Uploading " + plural(files.length, "photo", "photos") + "…");

      request.upload.addEventListener("progress", function (progress) {
        if (!progress.lengthComputable || !bar) { return; }
        var percent = Math.min(100, Math.round((progress.loaded / progress.total) * 100));
        bar.value = percent;
        bar.textContent = percent + "%";
        // Spoken every quarter, so a screen reader is not flooded.
        var quarter = Math.floor(percent / 25);
        if (quarter !== lastSpoken) {
          lastSpoken = quarter;
          say("Uploading " + plural(files.length, "photo", "photos") + ": " + percent + "%");
        }
      });
      request.upload.addEventListener("load", function () {
        if (bar) {
          bar.value = bar.max;
          bar.textContent = "100%";
        }
        say("Uploaded. Checking the photos…");
      });
      request.addEventListener("load", function () {
        var answer = null;
        try {
          answer = JSON.parse(request.responseText);
        } catch (problem) {
          answer = null;
        }
        if (request.status === 200 && answer && answer.status_url) {
          if (bar) { bar.value = bar.max; }
          say("Uploaded. Opening the status page…");
          window.location.assign(answer.status_url);
          return;
        }
        if (answer && answer.errors && answer.errors.length) {
          showErrors(answer.errors);
        } else if (request.status === 403) {
          showErrors(["Your session has ended. Reload the page, sign in again if asked, and add the photos again."]);
        } else if (request.status === 413) {
          showErrors(["The photos are too large to send together. Try fewer at a time."]);
        } else {
          showErrors(["The upload did not work (error " + request.status + "). Please try again."]);
        }
      });
      request.addEventListener("error", function () {
        showErrors(["The connection was lost before the upload finished. Check your signal and try again."]);
      });
      request.addEventListener("timeout", function () {
        showErrors(["The upload took too long. Check your signal and try again, perhaps with fewer photos."]);
      });
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      request.send(new FormData(form));
    });
  }

  // --- Upload status page ---------------------------------------------------------------

  function setUpBatch(list) {
    var url = list.getAttribute("data-status-url");
    var summary = document.querySelector("[data-batch-summary]");
    var confirmSection = document.querySelector("[data-confirm-section]");
    var refusedNote = document.querySelector("[data-refused-note]");
    var checkAgain = document.querySelector("[data-check-again]");
    if (!url || !window.fetch) { return; }
    if (checkAgain) { checkAgain.hidden = true; }
    var failures = 0;

    function showRow(row, photo, number) {
      var badge = row.querySelector("[data-status]");
      var reason = row.querySelector("[data-reason]");
      var name = row.querySelector("[data-name]");
      var thumb = row.querySelector("[data-thumb]");
      if (badge.textContent !== photo.label) {
        badge.textContent = photo.label;
        badge.className = "badge file-status status-" + photo.status;
      }
      reason.textContent = photo.reason || "";
      reason.hidden = !photo.reason;
      var faces = row.querySelector("[data-faces]");
      if (faces && photo.faces && !faces.querySelector("a")) {
        var check = document.createElement("a");
        check.href = row.getAttribute("data-detail-url") + "#unidentifiable";
        check.textContent = "Check the faces";
        faces.textContent = photo.faces + ". ";
        faces.appendChild(check);
        faces.hidden = false;
      }
      if (photo.status === "ready" && thumb && !thumb.querySelector("img")) {
        var image = document.createElement("img");
        image.src = row.getAttribute("data-thumbnail-url");
        image.alt = "";
        image.width = 64;
        image.height = 64;
        thumb.appendChild(image);
        var link = document.createElement("a");
        link.href = row.getAttribute("data-detail-url");
        link.textContent = "Photo " + number;
        name.textContent = "";
        name.appendChild(link);
      }
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (answer) {
          failures = 0;
          var counts = { processing: 0, ready: 0, refused: 0 };
          answer.photos.forEach(function (photo, index) {
            counts[photo.status] = (counts[photo.status] || 0) + 1;
            var row = list.querySelector("[data-photo='" + photo.id + "']");
            if (row) { showRow(row, photo, index + 1); }
          });
          if (refusedNote) { refusedNote.hidden = !counts.refused; }
          if (counts.processing) {
            summary.textContent = plural(counts.ready + counts.refused, "photo", "photos") + " of " +
              answer.photos.length + " checked. This page updates by itself.";
            window.setTimeout(poll, POLL_EVERY_MS);
            return;
          }
          var done = "Every photo has been checked: " + counts.ready + " ready";
          if (counts.refused) { done += ", " + counts.refused + " refused"; }
          summary.textContent = done + ".";
          list.removeAttribute("data-processing");
          if (confirmSection) { confirmSection.hidden = false; }
        })
        .catch(function () {
          failures += 1;
          if (failures >= 5) {
            summary.textContent = "The page could not check the photos just now. Reload it to see their status.";
            if (checkAgain) { checkAgain.hidden = false; }
            return;
          }
          window.setTimeout(poll, POLL_EVERY_MS * failures);
        });
    }

    if (list.hasAttribute("data-processing")) { window.setTimeout(poll, POLL_EVERY_MS); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.querySelector("[data-family-form]");
    if (picker) { setUpFamilyPicker(picker); }
    var form = document.querySelector("[data-upload-form]");
    if (form) {
      setUpBlurChoice(form);
      setUpUploadForm(form);
    }
    var batch = document.querySelector("[data-batch]");
    if (batch) { setUpBatch(batch); }
  });
})();
