// Polls the analysis status endpoint and renders the result. Only textContent is used:
// every string here may come from attacker-controlled metadata.
(function () {
  "use strict";
  const root = document.getElementById("result");
  if (!root) return;
  const statusUrl = root.dataset.statusUrl;
  const $ = (id) => document.getElementById(id);
  let delay = 500;
  let verdictShown = false;
  // the signal registry (shared/signals.py), rendered by the template as data: kind -> group, title, role
  const registry = JSON.parse($("signals").textContent);
  const signalOf = (kind) => registry.signals[kind] || null;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  // never "0.0 %" or "100.0 %" beside a verdict that is not certain (shared/verdict.py probability_text)
  const pct = (p) => (p === null || p === undefined ? "n/a" : p < 0.001 ? "under 0.1 %" : p > 0.999 ? "over 99.9 %" :
    (p * 100).toFixed(p < 0.1 || p > 0.9 ? 1 : 0) + " %");

  function renderStatus(data) {
    const s = $("status");
    s.textContent = data.status;
    s.className = "badge " + data.status;
    $("status-note").textContent = data.status === "queued" ? "waiting for a worker…" :
      data.status === "running" ? "analysing…" : "";
  }

  function renderEvidence(items) {
    const box = $("evidence");
    box.replaceChildren();
    const groups = new Map(registry.groups.map((g) => [g.name, {title: g.title, list: []}]));
    groups.set("other", {title: "Other", list: []});  // a kind the registry lacks is shown, never misfiled
    for (const it of items) {
      const s = signalOf(it.kind);
      groups.get(s && groups.has(s.group) ? s.group : "other").list.push(it);
    }
    for (const [name, {title, list}] of groups) {
      if (!list.length) continue;
      const sec = el("section", null, "evidence-group");
      sec.dataset.group = name;
      sec.append(el("h4", title));
      const ul = el("ul");
      for (const it of list) {
        const li = el("li", null, "effect-" + it.effect);
        if (name === "maps") {  // the map and its full caption are shown below
          li.append(el("span", it.effect, "badge " + it.effect), " ", el("strong", String(it.value)), " (see the maps below)");
          ul.append(li);
          continue;
        }
        li.append(el("span", it.effect, "badge " + it.effect), " ", el("strong", it.reason), " ");
        li.append(el("code", it.source));
        if (it.value !== null && it.value !== undefined && typeof it.value !== "object") {
          const v = String(it.value);
          if (v.length > 120) {
            const d = el("details"); d.append(el("summary", v.slice(0, 60) + "…"), el("pre", v)); li.append(d);
          } else li.append(" = ", el("span", v, "value"));
        } else if (it.value && typeof it.value === "object") {
          const d = el("details"), dl = el("dl", null, "facts");
          for (const [label, text] of facts(it.value, "")) dl.append(el("dt", label), el("dd", text));
          d.append(el("summary", "details"), dl);
          li.append(d);
        }
        ul.append(li);
      }
      sec.append(ul);
      box.append(sec);
    }
    $("evidence-box").hidden = items.length === 0;
  }

  // A structured value as label/text lines for a reader, not raw JSON (the API keeps the structure):
  // nested keys joined ("signer issuer"), lists of plain values on one line. The printed report does the same
  // (facts() in the report's page module).
  function facts(value, label) {
    if (Array.isArray(value) && !value.some(v => v && typeof v === "object")) return [[label, value.join(", ")]];
    if (value && typeof value === "object") {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i + 1), v]) : Object.entries(value);
      return entries.filter(([, v]) => v !== null && v !== "" && !(typeof v === "object" && !Object.keys(v).length))
        .flatMap(([k, v]) => facts(v, (label + " " + k.replace(/_/g, " ")).trim()));
    }
    return [[label, String(value)]];
  }

  function renderChart(result) {
    const points = result.robustness && result.robustness.length ? result.robustness :
      [{perturbation: "original", fake_probability: result.fake_probability}];
    $("chart-hint").textContent = result.scored === false ?
      "The image is too small for the detector: these scores are shown, but the verdict did not use them." :
      result.robustness && result.robustness.length ?
      "The model's fake probability for the image as uploaded and after re-compression and down-scaling; a line that crosses the thresholds means the verdict is not robust." :
      "The model's fake probability.";
    $("chart-box").hidden = false;
    if (typeof Chart === "undefined") return;
    const th = result.thresholds || {};
    const labels = points.map((p) => p.perturbation);
    const datasets = [{label: "fake probability", data: points.map((p) => p.fake_probability),
      borderColor: "#b0302a", backgroundColor: "#b0302a", tension: 0.2}];
    if (th.model_fake !== undefined) datasets.push({label: "fake threshold", data: labels.map(() => th.model_fake),
      borderColor: "#999", borderDash: [6, 4], pointRadius: 0});
    if (th.model_real !== undefined) datasets.push({label: "real threshold", data: labels.map(() => th.model_real),
      borderColor: "#5a8", borderDash: [6, 4], pointRadius: 0});
    new Chart($("confidence-chart"), {type: "line", data: {labels, datasets},
      // the box sets the height (style.css), so a phone's narrow width does not flatten the plot
      options: {animation: false, maintainAspectRatio: false, scales: {y: {min: 0, max: 1}}}});
  }

  function renderMaps(maps) {
    const box = $("maps");
    box.replaceChildren();
    for (const m of maps || []) {
      const fig = el("figure");
      const img = el("img"); img.src = m.url; img.alt = m.title || m.name;
      const open = el("button", "Examine: zoom, overlay on the image", "examine");
      open.type = "button";
      for (const node of [img, open]) Object.assign(node.dataset, {mapUrl: m.url, mapTitle: m.title || m.name});
      fig.append(el("h4", m.title || m.name), img, open, el("figcaption", m.label || ""));  // mapviewer.js opens it
      box.append(fig);
    }
    $("maps-box").hidden = !(maps && maps.length);
  }

  function renderPreview(data) {
    const img = $("preview");
    if (data.preview_url) {
      img.src = data.preview_url;
      img.hidden = false;
    } else {
      img.hidden = true;
      $("preview-note").textContent = data.purged_at ?
        "The image was purged from storage; its verdict and evidence are kept." : "No preview of this image.";
    }
    $("preview-box").hidden = false;
  }

  function card(cls, title, text, note) {
    const node = el("div", null, "card " + cls);
    node.append(el("strong", title), el("span", " " + text));
    if (note) node.append(el("small", " " + note));
    return node;
  }

  // one card per detector: its own probability, name and version (the combined score decides)
  function renderDetectors(result) {
    $("detectors").replaceChildren(...(result.detectors || []).map((d) => {
      const node = card("detector-card", d.name, pct(d.fake_probability),
        "v" + (d.version || "").slice(0, 12) + ", weight " + Number(d.weight).toFixed(2));
      node.dataset.detector = d.name;
      return node;
    }));
  }

  // one card per decisive provenance item: strong, or a provenance record that points fake or real
  function renderDecisive(items) {
    const decisive = items.filter((it) => {
      const s = signalOf(it.kind);
      return it.strong || (s && s.decisive && (it.effect === "fake" || it.effect === "real"));
    });
    $("decisive").replaceChildren(...decisive.map((it) => {
      const s = signalOf(it.kind);
      const node = card("provenance-card effect-" + it.effect, s ? s.title : it.kind, it.reason,
        it.strong ? "decisive" : it.effect);
      node.dataset.kind = it.kind;
      return node;
    }));
  }

  function renderDone(data) {
    const r = data.result || {};
    const level = data.level_detail;
    $("level-label").textContent = level ? level.label : "";
    $("verdict").textContent = data.verdict;
    $("verdict").className = "badge " + data.verdict;
    $("verdict-box").className = "verdict " + data.verdict;
    $("verdict-box").dataset.level = data.level || "";
    $("level-meaning").textContent = level ? level.meaning + "." : "";
    $("level-rates").textContent = level && level.rates ? "Measured: " + level.rates.sentence + "." : "";
    $("fake-probability").textContent = data.scored === false ?
      "not scored: the image is too small for the detector, so the verdict did not use its score" :
      pct(data.fake_probability);
    $("metadata-score").textContent = data.metadata_score === null ? "n/a" : data.metadata_score.toFixed(2);
    $("model-version").textContent = (data.model_version || "").slice(0, 12);
    const ol = $("reasons");
    // with a level, its first reason restates the level's meaning shown above it
    ol.replaceChildren(...(data.reasons || []).slice(level ? 1 : 0).map((r) => el("li", r)));
    renderDetectors(r);
    renderDecisive(data.evidence || []);
    $("verdict-box").hidden = false;
    renderPreview(data);
    renderEvidence(data.evidence || []);
    renderChart(r);
  }

  // the verdict comes first; the thumbnail and maps are made afterwards and shown when ready, no reload
  let mapsShown = false;
  function renderMapsState(data) {
    const note = $("maps-note");
    if (data.maps_state === "ready" && !mapsShown) {
      mapsShown = true;
      renderMaps((data.result || {}).maps);
      renderEvidence(data.evidence || []);
    }
    note.textContent = data.maps_state === "pending" ? "The forensic maps are being made…"
      : data.maps_state === "failed" ? "The forensic maps could not be made: " + (data.maps_error || "unknown reason")
      : "";
    note.hidden = !note.textContent;
  }

  async function poll() {
    let data;
    try {
      const resp = await fetch(statusUrl, {headers: {Accept: "application/json"}});
      data = await resp.json();
      if (!resp.ok) throw new Error(data.error || resp.statusText);
    } catch (err) {
      $("status-note").textContent = "could not reach the server (" + err.message + "); retrying…";
      delay = Math.min(delay * 2, 10000);
      setTimeout(poll, delay);
      return;
    }
    renderStatus(data);
    // other scripts of the page (reanalysis.js) act once the analysis is final
    if (data.status === "done" || data.status === "failed") {
      document.dispatchEvent(new CustomEvent("analysis:final", {detail: data}));
    }
    if (data.status === "done") {
      if (!verdictShown) { verdictShown = true; renderDone(data); }
      renderMapsState(data);
      if (data.maps_state !== "pending") return;
      setTimeout(poll, Math.min(delay *= 1.3, 3000));
      return;
    }
    if (data.status === "failed") {
      $("failure").textContent = "The analysis failed: " + (data.error || "unknown reason");
      $("failure").hidden = false;
      return;
    }
    delay = Math.min(delay * 1.3, 3000);
    setTimeout(poll, delay);
  }
  poll();
})();
