// memora-cdn dashboard: refreshes the panels in place, runs the queue buttons through the
// admin API with the CSRF token, and filters the plan explorer. No dependencies.
"use strict";

(function () {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
  const csrf = meta("csrf-token");
  const every = Number(meta("refresh-seconds")) * 1000 || 5000;
  const panels = document.getElementById("panels");
  const notice = document.getElementById("notice");
  const live = document.getElementById("live");
  if (!panels) return; // the login page

  function say(text, bad) {
    notice.textContent = text;
    notice.classList.toggle("bad", Boolean(bad));
    notice.hidden = false;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { notice.hidden = true; }, 6000);
  }

  async function refresh() {
    const seen = new Set([...panels.querySelectorAll("[data-sync-id]")].map((row) => row.dataset.syncId));
    try {
      const response = await fetch("/dashboard/panels", { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      panels.innerHTML = await response.text();
      for (const row of panels.querySelectorAll("[data-sync-id]")) {
        if (seen.size && !seen.has(row.dataset.syncId)) row.classList.add("fresh");
      }
      const grid = panels.querySelector("[data-updated]");
      document.getElementById("updated").textContent = grid ? grid.dataset.updated : "";
      live.classList.remove("stale");
    } catch (problem) {
      live.classList.add("stale");
    }
  }

  const actions = {
    retry: (plan) => ["POST", `/api/dead-letter/${encodeURIComponent(plan)}/retry`, `${plan} queued again.`],
    clear: (plan) => ["DELETE", `/api/dead-letter/${encodeURIComponent(plan)}`, `${plan} cleared from the dead letter.`],
    rebuild: (plan) => ["POST", `/api/plans/${encodeURIComponent(plan)}/rebuild`, `${plan} queued for a rebuild.`],
  };

  panels.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const plan = button.dataset.plan;
    if (button.dataset.action === "clear" && !window.confirm(`Forget ${plan}'s dead letter? It will not be retried.`)) return;
    const [method, url, done] = actions[button.dataset.action](plan);
    button.disabled = true;
    try {
      const response = await fetch(url, { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
      const body = await response.json().catch(() => ({}));
      if (response.ok) say(body.status === "already queued" ? `${plan} is already queued.` : done);
      else say(body.error || `HTTP ${response.status}`, true);
    } catch (problem) {
      say(String(problem), true);
    }
    await refresh();
  });

  setInterval(refresh, every);

  // Plan explorer: pick a plan, find nodes by name, filter by access.
  const select = document.getElementById("plan-select");
  select?.addEventListener("change", () => select.form.submit());
  const find = document.getElementById("find");
  const filter = document.getElementById("access-filter");
  const matches = document.getElementById("matches");

  function applyFilter() {
    const words = (find?.value ?? "").trim().toLowerCase();
    const access = filter?.value ?? "";
    const nodes = document.querySelectorAll("#tree .node, #hidden .node");
    if (!words && !access) {
      for (const node of nodes) { node.hidden = false; node.classList.remove("match"); }
      if (matches) matches.textContent = "";
      return;
    }
    let count = 0;
    const keep = new Set();
    for (const node of nodes) {
      const hit = (!words || node.dataset.name.includes(words))
        && (!access || node.dataset.access.split(" ").includes(access));
      node.classList.toggle("match", hit);
      if (!hit) continue;
      count += 1;
      if (!access) {
        // A name match shows what is under it, one level open.
        for (const below of node.querySelectorAll(".node")) keep.add(below);
        const own = node.querySelector(":scope > details");
        if (own) own.open = true;
      }
      for (let up = node; up && up.classList.contains("node"); up = up.parentElement.closest(".node")) {
        keep.add(up);
        const details = up.querySelector(":scope > details");
        if (details && up !== node) details.open = true;
      }
    }
    for (const node of nodes) node.hidden = !keep.has(node);
    if (matches) matches.textContent = `${count} match${count === 1 ? "" : "es"}.`;
  }

  let pending;
  find?.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(applyFilter, 120); });
  filter?.addEventListener("change", applyFilter);
})();
