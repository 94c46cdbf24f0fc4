// Lantern console: a little progressive enhancement. Every page works without this file.
// - The idle countdown: at zero the page hides what is on screen and goes to the lock page
//   (the server has ended the session by then: its idle limit is the same number).
// - Live parts: an element with data-refresh is re-fetched every few seconds, marked passive so
//   that an unattended console still locks.
"use strict";
(function () {
  var body = document.body;
  var idle = Number(body.getAttribute("data-idle-seconds"));
  var lockedUrl = body.getAttribute("data-locked-url");
  var display = document.querySelector("[data-idle-display]");
  if (idle > 0 && lockedUrl) {
    var deadline = Date.now() + idle * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      if (display) {
        var m = Math.floor(left / 60), s = left % 60;
        display.textContent = "Locks in " + m + ":" + (s < 10 ? "0" : "") + s;
      }
      if (left <= 0) {
        body.classList.add("locked");
        var main = document.getElementById("main");
        if (main) { main.replaceChildren(); }
        window.location.replace(lockedUrl);
        return;
      }
      window.setTimeout(tick, 1000);
    };
    tick();
  }
  document.querySelectorAll("[data-refresh]").forEach(function (el) {
    var url = el.getAttribute("data-refresh");
    var every = Math.max(2, Number(el.getAttribute("data-refresh-seconds")) || 5) * 1000;
    var refresh = function () {
      // Not while someone is typing into a form inside it: their note must not vanish.
      if (el.contains(document.activeElement) && document.activeElement !== el) {
        window.setTimeout(refresh, every);
        return;
      }
      fetch(url, { headers: { "X-Lantern-Passive": "1" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.status === 401) { window.location.replace(lockedUrl || "/console/sign-in"); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            el.replaceChildren.apply(el, Array.prototype.slice.call(doc.body.childNodes));
          }
        })
        .catch(function () { /* offline for a moment: the next round tries again */ })
        .then(function () { window.setTimeout(refresh, every); });
    };
    window.setTimeout(refresh, every);
  });
})();
// A form sent back with what to fix: its summary of problems takes the focus, so that a screen
// reader reads it and the keyboard starts from its links to each question.
(function () {
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
})();
