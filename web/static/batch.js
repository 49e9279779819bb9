// Live progress of a batch: polls its status endpoint until every analysis is done or failed.
(function () {
  "use strict";
  const root = document.getElementById("batch");
  if (!root) return;
  async function poll() {
    try {
      const data = await (await fetch(root.dataset.statusUrl + "?per_page=1")).json();
      const c = data.counts, finished = c.done + c.failed;
      const bar = document.getElementById("batch-progress");
      bar.max = data.total; bar.value = finished;
      document.getElementById("batch-counts").textContent = finished + " of " + data.total + " finished · " +
        c.done + " done · " + c.failed + " failed · " + c.running + " running · " + c.queued + " queued";
      document.getElementById("batch-state").textContent = data.status;
      if (data.status === "done") return;
    } catch (err) { /* transient: try again */ }
    setTimeout(poll, 1500);
  }
  poll();
})();
