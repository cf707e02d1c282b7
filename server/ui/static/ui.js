// featurestore UI: copy buttons (the only script; every page works without it).
"use strict";
(function () {
  function copied(button, text) {
    var status = document.getElementById(button.getAttribute("aria-controls") + "-status");
    if (status) { status.textContent = text; }
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, "Copied"); },
        function () { copied(button, fallback(text) ? "Copied" : "Select the text and copy it"); });
    } else {
      copied(button, fallback(text) ? "Copied" : "Select the text and copy it");
    }
  });
  document.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });
})();
