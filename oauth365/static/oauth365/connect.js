// "Authenticate Microsoft 365": sign in in a popup, then refresh the status in place.
(function () {
  "use strict";
  var POPUP_NAME = "m365_auth";
  var CHANNEL = "oauth365";
  var POLL_MS = 2000;
  var POLL_LIMIT_MS = 10 * 60 * 1000; // the flow itself expires after 10 minutes
  // Django's JavaScript catalog (/jsi18n/, djangojs domain); English where a page lacks it.
  function gettext(text) {
    return typeof window.gettext === "function" ? window.gettext(text) : text;
  }

  function setup(section) {
    var form = section.querySelector("form[data-oauth365-start]");
    if (!form) return;
    var statusArea = section.querySelector("[data-oauth365-status]");
    var resultArea = section.querySelector("[data-oauth365-result]");
    var statusUrl = section.getAttribute("data-status-url");
    var waiting = null;

    function statusFetch() {
      var url = statusUrl + "?next=" + encodeURIComponent(location.pathname + location.search);
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; });
    }

    function show(result, status) {
      if (status && statusArea) statusArea.innerHTML = status.html;
      if (!resultArea) return;
      resultArea.textContent = "";
      var text = result ? result.message : status && status.authenticated ? gettext("Microsoft 365 has been authenticated") : "";
      if (!text) return;
      var line = document.createElement("span");
      line.className = "message message-" + (result && !result.ok ? "error" : "success");
      line.textContent = text;
      resultArea.appendChild(line);
      var warning = (result && result.warning) || (status && status.warning);
      if (warning) {
        var note = document.createElement("span");
        note.className = "message message-warning";
        note.textContent = " " + warning;
        resultArea.appendChild(note);
      }
    }

    function finish(result, via) {
      if (!waiting) return;
      stopWaiting();
      section.setAttribute("data-oauth365-via", via); // which path brought the result
      statusFetch().then(function (status) { show(result, status); }, function () { show(result, null); });
    }

    function stopWaiting() {
      if (!waiting) return;
      clearInterval(waiting.timer);
      window.removeEventListener("message", waiting.onMessage);
      if (waiting.channel) waiting.channel.close();
      waiting = null;
    }

    function startWaiting(popup) {
      stopWaiting();
      var started = Date.now();
      var state = { popup: popup, channel: null, timer: null, onMessage: null };
      state.onMessage = function (event) {
        if (event.origin !== location.origin || !event.data || event.data.type !== "oauth365:result") return;
        finish(event.data, "message");
      };
      window.addEventListener("message", state.onMessage);
      if ("BroadcastChannel" in window) {
        // Fallback when the popup lost its opener (a Cross-Origin-Opener-Policy on the way).
        state.channel = new BroadcastChannel(CHANNEL);
        state.channel.onmessage = function (event) {
          if (!event.data || event.data.type !== "oauth365:result") return;
          state.channel.postMessage({ type: "oauth365:ack" });
          finish(event.data, "channel");
        };
      }
      // Polling fallback: the server keeps the callback's outcome until the page reads it.
      state.timer = setInterval(function () {
        if (Date.now() - started > POLL_LIMIT_MS) { stopWaiting(); return; }
        statusFetch().then(function (status) {
          if (waiting && status && status.outcome) finish(status.outcome, "poll");
        }, function () {});
      }, POLL_MS);
      waiting = state;
    }

    form.addEventListener("submit", function (event) {
      var popupField = form.querySelector("input[name=popup]");
      // Opened synchronously in the click's task, so popup blockers let it through.
      var popup = window.open("", POPUP_NAME, "width=520,height=680");
      if (!popup) {
        // Blocked: the same flow as a full-page redirect.
        form.removeAttribute("target");
        if (popupField) popupField.value = "0";
        return;
      }
      if (popupField) popupField.value = "1";
      form.setAttribute("target", POPUP_NAME);
      if (resultArea) resultArea.textContent = gettext("Waiting for the Microsoft 365 sign-in window…");
      startWaiting(popup);
      try { popup.focus(); } catch (e) { /* a severed popup cannot be focused */ }
      void event;
    });
  }

  function init() {
    var sections = document.querySelectorAll("[data-oauth365]");
    for (var i = 0; i < sections.length; i++) setup(sections[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
