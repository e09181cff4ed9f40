/* The card form (admin and Personal → User): live server-field visibility, provider presets
   and the SSL/TLS suggestion for the typed port. Rows are hidden, never disabled, so stored
   values are posted back unchanged. */
(function () {
  "use strict";

  // The JavaScript catalog (jsi18n) is loaded before this script; English if it is missing.
  var gettext = window.gettext || function (text) { return text; };
  var pgettext = window.pgettext || function (context, text) { return text; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%\((\w+)\)s/g, function (match, name) { return String(values[name]); });
  };

  var SERVER_MODES = ["smtp", "m365_oauth"];
  var SUGGESTED = { "25": "starttls", "465": "ssl", "587": "starttls" };
  // The SSL/TLS choices as the select names them; "No" is the SSL/TLS one, not Yes/No.
  function sslLabel(value) {
    var labels = { no: pgettext("ssl_tls", "No"), ssl: "SSL", starttls: "StartTLS / SSL / TLS" };
    return labels[value];
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function changed(element) {
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function serverFieldsShow(mode) {
    var show = SERVER_MODES.indexOf(mode.value) !== -1;
    document.querySelectorAll(".server-fields").forEach(function (group) {
      group.hidden = !show;
    });
  }

  // Microsoft 365 OAUTH: the sign-in shows at once (saved or not) and the password is hidden,
  // since that mode uses none (the form ignores it); the summary shows for the other modes.
  function m365Show(mode) {
    var m365 = mode.value === "m365_oauth";
    document.querySelectorAll("[data-m365-connect]").forEach(function (block) {
      block.hidden = !m365;
    });
    document.querySelectorAll("[data-m365-summary]").forEach(function (block) {
      block.hidden = m365;
    });
    document.querySelectorAll(".field-smtp_password, .field-clear_smtp_password").forEach(function (row) {
      row.hidden = m365;
    });
  }

  // Each Mail sender option's explanation: only the chosen one (all of them without JS).
  function modeHelpShow(mode) {
    document.querySelectorAll("[data-mode-help] [data-mode]").forEach(function (text) {
      text.hidden = text.dataset.mode !== mode.value;
    });
  }

  function portOf(value) {
    var match = /:(\d+)\s*$/.exec(value || "");
    return match ? match[1] : null;
  }

  function sslHintElement(ssl) {
    var hint = byId("ssl-tls-hint");
    if (!hint) {
      // Built once: rebuilding it on every event would pull the button away mid-click.
      hint = document.createElement("div");
      hint.id = "ssl-tls-hint";
      hint.className = "ssl-tls-hint";
      hint.setAttribute("aria-live", "polite");
      var text = document.createElement("span");
      var use = document.createElement("button");
      use.type = "button";
      use.className = "button ssl-tls-use";
      use.addEventListener("click", function () {
        ssl.value = use.dataset.value;
        changed(ssl);
      });
      hint.appendChild(text);
      hint.appendChild(use);
      ssl.insertAdjacentElement("afterend", hint);
    }
    return hint;
  }

  function sslHintUpdate(server, ssl) {
    var hint = sslHintElement(ssl);
    var port = portOf(server.value);
    var suggested = SUGGESTED[port];
    if (!suggested || ssl.value === suggested) {
      hint.hidden = true;
      return;
    }
    hint.hidden = false;
    var values = { port: port, suggested: sslLabel(suggested), chosen: sslLabel(ssl.value) };
    hint.firstChild.textContent = interpolate(
      ssl.value === ""
        ? gettext("Port %(port)s: “%(suggested)s” will be used.")
        : gettext("Port %(port)s usually expects “%(suggested)s”, not “%(chosen)s”."),
      values,
      true
    ) + " ";
    hint.lastChild.dataset.value = suggested;
    hint.lastChild.textContent = interpolate(gettext("Use %(suggested)s"), values, true);
  }

  function presetApply(button, fields) {
    fields.server.value = button.dataset.mailServer;
    fields.ssl.value = button.dataset.sslTls;
    if (button.dataset.mailSender && fields.mode.value !== button.dataset.mailSender) {
      fields.mode.value = button.dataset.mailSender;
      changed(fields.mode);
    }
    changed(fields.server);
    changed(fields.ssl);
    var hint = document.querySelector("[data-preset-hint]");
    if (hint) {
      hint.textContent = button.dataset.hint || "";
      hint.hidden = !button.dataset.hint;
    }
  }

  // The effective settings of the unsaved values: the server resolves them (nothing is saved)
  // and sends the panel back. A typed password travels only as a placeholder: the panel says
  // "set" or "not set", never the value.
  var PREVIEW_DELAY_MS = 400;
  var PASSWORD_PLACEHOLDER = "********";

  function previewSetup(form) {
    var area = document.querySelector("[data-effective-preview]");
    if (!area || !form || !window.fetch || !window.FormData) {
      return;
    }
    var timer = null;
    var sent = 0;
    function refresh() {
      var data = new FormData(form);
      if (data.get("smtp_password")) {
        data.set("smtp_password", PASSWORD_PLACEHOLDER);
      }
      var number = ++sent;
      fetch(area.dataset.previewUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": data.get("csrfmiddlewaretoken") || "" },
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          // Only the newest answer counts: an older, slower one must not overwrite it.
          if (number !== sent) {
            return;
          }
          if (answer && answer.html) {
            area.innerHTML = answer.html;
          }
          area.removeAttribute("aria-busy");
        }, function () {
          if (number === sent) {
            area.removeAttribute("aria-busy");
          }
        });
    }
    function schedule() {
      clearTimeout(timer);
      area.setAttribute("aria-busy", "true"); // until the newest preview has arrived
      timer = setTimeout(refresh, PREVIEW_DELAY_MS);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  }

  function init() {
    previewSetup(document.querySelector("form.card-form"));
    var fields = { mode: byId("id_mail_sender"), server: byId("id_mail_server"), ssl: byId("id_ssl_tls") };
    if (!fields.mode) {
      return;
    }
    fields.mode.addEventListener("change", function () {
      serverFieldsShow(fields.mode);
      modeHelpShow(fields.mode);
      m365Show(fields.mode);
    });
    serverFieldsShow(fields.mode);
    modeHelpShow(fields.mode);
    m365Show(fields.mode);
    if (fields.server && fields.ssl) {
      var update = function () {
        sslHintUpdate(fields.server, fields.ssl);
      };
      fields.server.addEventListener("input", update);
      fields.server.addEventListener("change", update);
      fields.ssl.addEventListener("change", update);
      update();
      document.querySelectorAll("[data-card-presets] [data-preset]").forEach(function (button) {
        button.addEventListener("click", function () {
          presetApply(button, fields);
        });
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
