// Live progress of a batch: polls its status route (the body of GET /api/v1/batches/<id>) until every analysis is
// done or failed, drawing each file of this page with its preview and verdict, or its reason, as it finishes.
(function () {
  "use strict";
  const root = document.getElementById("batch");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const shown = new Map();  // analysis id -> [what was drawn, its element]

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(item) {
    const state = item.verdict || item.status;
    const li = el("li", "item " + item.status);
    li.dataset.id = item.id;
    li.dataset.status = item.status;
    const frame = el("a", "frame");
    frame.href = item.page_url;
    if (item.preview_url) {
      const img = el("img");
      img.src = item.preview_url;
      img.alt = "";
      img.loading = "lazy";
      frame.append(img);
    } else {
      frame.append(el("span", "placeholder", item.status === "failed" ? "✕" : "…"));
    }
    const name = el("a", "name", item.filename);
    name.href = item.page_url;
    const line = el("p", "line");
    const badge = el("span", "badge " + state, item.level_label || state);
    if (item.level_label) badge.title = "verdict " + item.verdict;
    line.append(badge);
    if (item.fake_probability !== null && item.fake_probability !== undefined) {
      line.append(" " + Math.round(item.fake_probability * 100) + " % fake");
    } else if (item.scored === false) {
      line.append(" not scored");  // too small for the detector: the verdict did not use its score
    }
    li.append(frame, name, line);
    if (item.error) li.append(el("p", "reason error", item.error));
    return li;
  }

  function draw(items) {
    const list = $("batch-items");
    items.forEach((item, k) => {
      const key = [item.status, item.verdict, item.level, item.preview_url, item.error].join("|");
      const old = shown.get(item.id);
      if (old && old[0] === key) return;  // unchanged: keep its image as loaded
      const fresh = card(item);
      if (old) old[1].replaceWith(fresh);
      else list.insertBefore(fresh, list.children[k] || null);
      shown.set(item.id, [key, fresh]);
    });
    const failed = items.filter((item) => item.status === "failed");
    $("failed-box").hidden = !failed.length;
    $("failed-list").replaceChildren(...failed.map((item) => {
      const row = el("li");
      const link = el("a", null, item.filename);
      link.href = item.page_url;
      row.append(link, ": ", el("span", "reason", item.error || "failed"));
      return row;
    }));
  }

  async function poll() {
    let data = null;
    try {
      const url = root.dataset.statusUrl + "?page=" + root.dataset.page + "&per_page=" + root.dataset.perPage;
      const resp = await fetch(url, {headers: {Accept: "application/json"}});
      if (resp.ok) data = await resp.json();
    } catch (err) { /* transient: try again */ }
    if (data) {
      const c = data.counts, finished = c.done + c.failed;
      const bar = $("batch-progress");
      bar.max = data.total;
      bar.value = finished;
      $("batch-counts").textContent = finished + " of " + data.total + " finished · " + c.done + " done · " +
        c.failed + " failed · " + c.running + " running · " + c.queued + " queued";
      $("batch-state").textContent = data.status;
      $("batch-state").className = "badge " + data.status;
      draw(data.items || []);
      if (data.status === "done") {
        $("results-label").textContent = "Results";
        const again = $("reanalyse-batch-form");
        if (again) again.hidden = false;
        document.querySelectorAll(".flash[data-while-running]").forEach((node) => node.remove());
        return;
      }
    }
    setTimeout(poll, 1500);
  }
  poll();
})();
