// History thumbnails: each is fetched until the worker has made it (409 meanwhile: a placeholder stays and the
// request is made again later), so a history opened straight after a batch fills in without a reload.
(function () {
  "use strict";
  const RETRY_MS = 2000, MAX_TRIES = 40;

  function load(cell, tries) {
    const again = () => setTimeout(() => load(cell, tries + 1), RETRY_MS * Math.min(tries + 1, 5));
    fetch(cell.dataset.thumb, {credentials: "same-origin"}).then((resp) => {
      if (resp.ok) {
        return resp.blob().then((blob) => {
          const img = document.createElement("img");
          img.src = URL.createObjectURL(blob);
          img.alt = "";
          cell.replaceWith(img);
        });
      }
      if (resp.status === 409 && tries < MAX_TRIES) return again();
      cell.textContent = "–";  // failed, purged or gone: nothing will come
      cell.title = "no thumbnail";
      cell.dataset.state = "none";
      return undefined;
    }).catch(() => { if (tries < MAX_TRIES) again(); });
  }

  document.querySelectorAll("[data-thumb]").forEach((cell) => load(cell, 0));
})();
