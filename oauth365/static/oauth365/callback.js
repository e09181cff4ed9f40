// The end of the Microsoft 365 sign-in in the popup: tell the card page, then close.
(function () {
  "use strict";
  var data = document.getElementById("oauth365-result");
  var main = document.querySelector("[data-oauth365-callback]");
  if (!data || !main) return;
  var result = JSON.parse(data.textContent);
  var doneUrl = main.getAttribute("data-done-url");
  var delivered = false;

  var opener = null;
  try { opener = window.opener && !window.opener.closed ? window.opener : null; } catch (e) { opener = null; }
  if (opener) {
    try {
      opener.postMessage(result, location.origin); // only to our own origin
      delivered = true;
    } catch (e) { delivered = false; }
  }

  if ("BroadcastChannel" in window) {
    var channel = new BroadcastChannel("oauth365");
    channel.onmessage = function (event) {
      if (event.data && event.data.type === "oauth365:ack") window.close();
    };
    channel.postMessage(result);
  }

  if (delivered) {
    window.close();
  } else {
    // No card page answered: this window was the whole page (popup blocked); show the
    // result on the card.
    setTimeout(function () { location.replace(doneUrl); }, 1000);
  }
})();
