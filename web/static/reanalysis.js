// The result page's re-analysis section: once the analysis is final (result.js says so), show the re-analyse
// button, and for a re-analysis the side-by-side comparison with the analysis it ran again. Only textContent is
// used: evidence strings may come from attacker-controlled metadata.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const box = $("comparison");
  let shown = false;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  const pct = (p) => (p === null || p === undefined ? "–" : (p * 100).toFixed(1) + " %");
  const points = (d) => (d === null || d === undefined ? "" : d === 0 ? "same" :
    (d > 0 ? "+" : "") + (d * 100).toFixed(1) + " points");
  const short = (v) => (v ? String(v).slice(0, 12) : "–");

  function row(name, before, now, change, changed, key) {
    const tr = el("tr", null, changed ? "changed" : "same");
    if (key) tr.dataset.row = key;
    const badge = (v) => { const td = el("td"); td.append(v instanceof Node ? v : el("span", v)); return td; };
    tr.append(el("th", name), badge(before), badge(now), el("td", change));
    return tr;
  }
  const verdictBadge = (side) => el("span", side.verdict || side.status, "badge " + (side.verdict || side.status));

  function evidenceList(title, items, cls, describe) {
    const sec = el("section", null, "evidence-change " + cls);
    sec.append(el("h4", title + " (" + items.length + ")"));
    const ul = el("ul");
    for (const it of items) ul.append(describe(it));
    sec.append(ul);
    return sec;
  }
  const item = (it) => {
    const li = el("li", null, "effect-" + it.effect);
    li.append(el("span", it.effect, "badge " + it.effect), " ", el("strong", it.reason), " ", el("code", it.source));
    return li;
  };
  const changedItem = (c) => {
    const li = el("li");
    li.append(el("code", c.kind + ": " + (c.source || "")), " ");
    for (const f of c.fields) {
      const v = (x) => (x === undefined || x === null ? "–" : typeof x === "object" ? JSON.stringify(x) : String(x));
      li.append(el("div", f + ": " + v(c.old[f]) + " → " + v(c.new[f])));
    }
    return li;
  };

  function render(data) {
    const c = data.changes, tbody = $("comparison-table").querySelector("tbody");
    tbody.replaceChildren();
    const old = data.old, now = data.new;
    if (!c) {  // the re-analysis failed (or the earlier analysis never finished): show what there is
      tbody.append(row("Verdict", verdictBadge(old), verdictBadge(now), now.error || "", true, "verdict"));
    } else {
      tbody.append(row("Verdict", verdictBadge(old), verdictBadge(now), c.verdict.changed ? "changed" : "same",
        c.verdict.changed, "verdict"));
      tbody.append(row("Level", old.level_label || "–", now.level_label || "–",
        c.level.changed ? "changed" : "same", c.level.changed, "level"));
      tbody.append(row("Fake probability", pct(old.fake_probability), pct(now.fake_probability),
        points(c.fake_probability.delta), c.fake_probability.changed, "fake_probability"));
      tbody.append(row("Metadata score", old.metadata_score ?? "–", now.metadata_score ?? "–",
        c.metadata_score.changed ? "changed" : "same", c.metadata_score.changed, "metadata_score"));
      tbody.append(row("Model version", short(old.model_version), short(now.model_version),
        c.model_version.changed ? "new model" : "same model", c.model_version.changed, "model_version"));
      for (const d of data.detectors) {
        tbody.append(row("Detector " + d.name, pct(d.old), pct(d.new), d.delta === null ? (d.old === null ? "added" :
          "removed") : points(d.delta), d.delta === null || Math.abs(d.delta) > 0, "detector-" + d.name));
      }
      const ev = data.evidence, changes = $("evidence-changes");
      changes.replaceChildren(el("h4", "Evidence: " + ev.added.length + " added, " + ev.removed.length +
        " removed, " + ev.changed.length + " changed, " + ev.unchanged + " unchanged"));
      if (ev.added.length) changes.append(evidenceList("Added", ev.added, "added", item));
      if (ev.removed.length) changes.append(evidenceList("Removed", ev.removed, "removed", item));
      if (ev.changed.length) changes.append(evidenceList("Changed", ev.changed, "changed", changedItem));
      changes.hidden = false;
    }
    $("comparison-table").hidden = false;
    $("comparison-note").textContent = "Before: " + (old.finished_at || "").slice(0, 19).replace("T", " ") +
      " UTC; now: " + (now.finished_at || "").slice(0, 19).replace("T", " ") + " UTC.";
  }

  async function load(tries) {
    try {
      const resp = await fetch(box.dataset.comparisonUrl, {headers: {Accept: "application/json"}});
      const data = await resp.json();
      if (!resp.ok) { $("comparison-note").textContent = data.error || resp.statusText; return; }
      render(data);
    } catch (err) {
      if (tries > 0) setTimeout(() => load(tries - 1), 1500);
      else $("comparison-note").textContent = "could not load the comparison (" + err.message + ")";
    }
  }

  document.addEventListener("analysis:final", (event) => {
    if (shown) return;
    shown = true;
    // "Re-analysing…" said while it ran; now it is done
    document.querySelectorAll(".flash[data-while-running]").forEach((node) => node.remove());
    const form = $("reanalyse-form");
    const same = form && form.dataset.currentModel && event.detail.model_version === form.dataset.currentModel;
    if (form) form.hidden = Boolean(same);
    if (same) $("same-model").hidden = false;
    if (box) load(5);
  });
})();
