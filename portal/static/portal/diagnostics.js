// Load the deliverability panel after the card page is shown (DNS may take seconds).
(function () {
  "use strict";
  // The JavaScript catalog (jsi18n) is loaded before this script; English if it is missing.
  var gettext = window.gettext || function (text) { return text; };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-diagnostics-url]").forEach(function (box) {
      fetch(box.dataset.diagnosticsUrl, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) { box.innerHTML = html; })
        .catch(function () {
          box.querySelector("p").textContent =
            gettext("The DNS check could not be loaded; open it from the link or try again later.");
        });
    });
  });
})();
