/* Nanum pages: small enhancements only. Every page works without this file. */
(function () {
  "use strict";
  if (window.htmx) {
    // No inline <style> (the CSP allows none) and no eval.
    htmx.config.includeIndicatorStyles = false;
    htmx.config.allowEval = false;
    htmx.config.allowScriptTags = false;
    htmx.config.historyCacheSize = 0;
  }
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
    // "Near me": the browser asks for consent; only the coordinates go to our server.
    var near = document.getElementById("near-me");
    if (near && "geolocation" in navigator) {
      near.hidden = false;
      var status = document.getElementById("near-status");
      near.addEventListener("click", function () {
        status.textContent = near.dataset.asking;
        navigator.geolocation.getCurrentPosition(
          function (pos) {
            var field = document.getElementById("f-near");
            field.value = pos.coords.latitude.toFixed(4) + "," + pos.coords.longitude.toFixed(4);
            near.form.submit();
          },
          function () { status.textContent = near.dataset.denied; },
          { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 }
        );
      });
    }
    // A booking form is sent once; the server's idempotency key covers the rest.
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "1";
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
      });
    });
  });
})();
