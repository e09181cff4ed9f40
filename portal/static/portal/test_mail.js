/* "Send test e-mail" (admin and Personal → User): post the form in the background and show
   the transcript in place. Without JavaScript the form posts normally to a page of its own. */
(function () {
  "use strict";

  // The JavaScript catalog (jsi18n) is loaded before this script; English if it is missing.
  var gettext = window.gettext || function (text) { return text; };

  // Must match users.views.FRAGMENT_HEADER.
  var FRAGMENT_HEADER = "X-Test-Mail-Fragment";
  // The view answers these with the panel (form and result); anything else is a full page.
  var PANEL_STATUSES = [200, 400, 429];

  function panelReplace(panel, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("[data-test-mail]");
    if (fresh) {
      panel.replaceWith(fresh);
      var result = fresh.querySelector("[data-test-mail-result]");
      if (result && result.firstElementChild) {
        result.scrollIntoView({ block: "nearest" });
      }
    }
    return Boolean(fresh);
  }

  function submitted(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-test-mail-form]")) {
      return;
    }
    var panel = form.closest("[data-test-mail]");
    if (!panel || !window.fetch) {
      return;
    }
    event.preventDefault();
    var button = form.querySelector("[data-test-mail-submit]");
    var result = panel.querySelector("[data-test-mail-result]");
    var headers = {};
    headers[FRAGMENT_HEADER] = "1";
    if (button) {
      button.disabled = true;
    }
    if (result) {
      result.textContent = gettext("Connecting to the mail server…");
    }
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: headers,
      credentials: "same-origin",
    })
      .then(function (response) {
        if (PANEL_STATUSES.indexOf(response.status) === -1) {
          throw new Error("unexpected status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (!panelReplace(panel, html)) {
          throw new Error("no panel in the answer");
        }
      })
      .catch(function () {
        // Let the browser show whatever the server says (login page, CSRF failure, error).
        form.submit();
      });
  }

  document.addEventListener("submit", submitted);
})();
