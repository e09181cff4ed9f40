// Polls the job's progress JSON and moves the bar until the job has ended.
(function () {
  "use strict";
  const panel = document.querySelector(".job-progress");
  if (!panel) return;
  const url = panel.dataset.progressUrl;
  const ENDED = ["finished", "cancelled"];
  // The catalog's gettext (base.html loads it); the English text when it is missing.
  const gettext = window.gettext || function (text) { return text; };
  const LABELS = {
    queued: gettext("Queued"),
    running: gettext("Running"),
    paused: gettext("Paused"),
    cancelled: gettext("Cancelled"),
    finished: gettext("Finished"),
  };

  function setText(selector, value) {
    const node = panel.querySelector(selector);
    if (node) node.textContent = value;
  }

  function render(data) {
    const total = data.counts.total || 1;
    for (const name of ["sent", "failed", "unknown"]) {
      panel.querySelector(".progress-" + name).style.width = (100 * data.counts[name] / total) + "%";
    }
    panel.querySelector(".progress").setAttribute("aria-valuenow", data.done);
    for (const [name, value] of Object.entries(data.counts)) setText('[data-count="' + name + '"]', value);
    setText('[data-field="status"]', LABELS[data.status] || data.status);
    setText('[data-field="done"]', data.done);
    // Numbers and times as the page's language writes them (<html lang>), not the browser's.
    const lang = document.documentElement.lang || undefined;
    setText('[data-field="rate"]', data.rate.toLocaleString(lang, {minimumFractionDigits: 2, maximumFractionDigits: 2}));
    setText('[data-field="expected_finish"]', data.expected_finish ? new Date(data.expected_finish).toLocaleString(lang, {dateStyle: "short", timeStyle: "short"}) : "—");
    const reason = panel.querySelector('[data-field="reason"]');
    reason.textContent = data.reason || "";
    reason.hidden = !data.reason;
    panel.dataset.status = data.status;
    for (const button of panel.querySelectorAll("button[data-when]")) {
      button.disabled = !button.dataset.when.split(" ").includes(data.status);
    }
    return !ENDED.includes(data.status);
  }

  async function poll() {
    let again = true;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) again = render(await response.json());
    } catch (error) {
      // A network hiccup: keep polling.
    }
    if (again) window.setTimeout(poll, 1000);
  }
  poll();
})();
