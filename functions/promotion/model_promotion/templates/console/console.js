// Refreshes a console page's data region in place: fetches the same URL with part=data every few seconds and
// swaps the region's content. Nothing outside it is touched, so the filter box, a half-typed reason and the
// focus survive. No inline script: the pages' Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";
  var region = document.getElementById("data");
  var status = document.getElementById("refresh-status");
  if (!region) return;
  var seconds = Number(region.getAttribute("data-refresh-seconds")) || 0;
  if (seconds <= 0) return;
  var refreshes = 0;

  function say(text) {
    if (status) status.textContent = text;
  }

  function refresh() {
    if (document.hidden) {
      // A tab nobody looks at asks for nothing; it catches up when shown again.
      window.setTimeout(refresh, seconds * 1000);
      return;
    }
    var url = new URL(window.location.href);
    url.searchParams.set("part", "data");
    fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 401 || answer.status === 403) {
          say("Your session ended: reload the page to sign in again. The data above is no longer refreshed.");
          return null;
        }
        if (!answer.ok) {
          say("The last refresh failed (HTTP " + answer.status + "); trying again in " + seconds + " s.");
          return undefined;
        }
        return answer.text();
      })
      .then(function (html) {
        if (html === null) return;
        if (typeof html === "string") {
          region.innerHTML = html;
          refreshes += 1;
          region.setAttribute("data-refreshes", String(refreshes));
          say("Updated " + new Date().toLocaleTimeString() + "; refreshes every " + seconds + " s.");
        }
        window.setTimeout(refresh, seconds * 1000);
      })
      .catch(function () {
        say("The console could not be reached; trying again in " + seconds + " s.");
        window.setTimeout(refresh, seconds * 1000);
      });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
