// The upload page: one image, several, a folder (picked or dropped) or a ZIP archive, sent with its progress.
// One image goes to the single-upload route and opens its result page; anything else becomes a batch and opens
// the batch page. Limits and file types come from the page (the server's settings): they are checked here only
// to refuse early; the server decides, and when it refuses, its own message is shown.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const types = JSON.parse(document.getElementById("file-types").textContent);
  const limits = {files: Number(form.dataset.maxFiles), fileBytes: Number(form.dataset.maxFileBytes),
                  batchBytes: Number(form.dataset.maxBatchBytes)};
  const $ = (id) => document.getElementById(id);
  const fileInput = $("file"), folderInput = $("folder"), nameInput = $("batch-name");
  const errorBox = $("upload-error"), submit = $("submit"), cancel = $("cancel");
  let chosen = [];  // the files to send
  let xhr = null;  // the upload in flight

  fileInput.multiple = true;  // without this script the form takes one image
  fileInput.required = false;  // dropped files are not in the input
  $("dropzone").hidden = false;

  function size(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1) + " MB";
    if (bytes < 1024) return bytes + (bytes === 1 ? " byte" : " bytes");
    return Math.round(bytes / 1024) + " KB";
  }

  function kind(file) {
    const name = file.name.toLowerCase(), dot = name.lastIndexOf(".");
    const ext = dot > 0 ? name.slice(dot) : "";
    if (types.archives.includes(ext) || /(^|\/)(x-)?zip(-compressed)?$/.test(file.type)) return "archive";
    if (types.images.includes(ext) || file.type.startsWith("image/")) return "image";
    return null;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function li(text) {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }

  // Keep what can be sent; say why the rest is left out. name: the folder's or archive's, for the batch.
  function choose(files, name) {
    errorBox.hidden = true;
    const skipped = [];
    chosen = [];
    for (const file of files) {
      const k = kind(file), limit = k === "archive" ? limits.batchBytes : limits.fileBytes;
      if (!k) skipped.push(file.name + ": not an image (" + types.images.join(" ") + ") or a ZIP archive");
      else if (file.size === 0) skipped.push(file.name + ": the file is empty");
      else if (file.size > limit) skipped.push(file.name + ": " + size(file.size) + ", over the limit of " + size(limit));
      else chosen.push(file);
    }
    const total = chosen.reduce((sum, f) => sum + f.size, 0);
    const batch = chosen.length > 1 || (chosen.length === 1 && kind(chosen[0]) === "archive");
    $("selection").hidden = false;
    $("skipped").replaceChildren(...skipped.map((text) => li("Left out: " + text)));
    $("batch-name-row").hidden = !batch;
    nameInput.value = batch ? (name || "") : "";
    $("selection-summary").textContent = chosen.length + (chosen.length === 1 ? " file, " : " files, ") +
      size(total) + (batch ? ": they will be analysed as a batch." : ".");
    let problem = null;
    if (!chosen.length) problem = files.length ? "None of these files can be analysed." : "The folder is empty.";
    else if (chosen.length > limits.files) {
      problem = "Too many files: " + chosen.length + " chosen; a batch may hold at most " + limits.files + ".";
    } else if (batch && total > limits.batchBytes) {
      problem = "Too large: " + size(total) + " together; a batch may be at most " + size(limits.batchBytes) + ".";
    }
    if (problem) {
      chosen = [];
      showError(problem);
    }
  }

  function folderName(files) {
    const path = files.length ? files[0].webkitRelativePath || "" : "";
    return path.includes("/") ? path.split("/")[0] : "";
  }

  function archiveName(files) {
    return files.length === 1 && kind(files[0]) === "archive" ? files[0].name.replace(/\.[^.]*$/, "") : "";
  }

  fileInput.addEventListener("change", () => choose(fileInput.files, archiveName(fileInput.files)));
  folderInput.addEventListener("change", () => choose(folderInput.files, folderName(folderInput.files)));

  // A dropped folder is read through its entries (every level); plain dropped files as they are.
  function filesOf(entry) {
    if (entry.isFile) return new Promise((ok, fail) => entry.file((file) => ok([file]), fail));
    const reader = entry.createReader(), found = [];
    return new Promise((ok, fail) => {
      const more = () => reader.readEntries((entries) => {
        if (!entries.length) {
          Promise.all(found.map(filesOf)).then((lists) => ok(lists.flat()), fail);
          return;
        }
        found.push(...entries);
        more();  // a directory reader hands out its entries a hundred at a time
      }, fail);
      more();
    });
  }

  async function dropped(transfer) {
    // entries must be taken while the drop event runs; the transfer is emptied afterwards
    const items = Array.from(transfer.items || []).filter((item) => item.kind === "file");
    const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    const plain = Array.from(transfer.files);
    if (!entries.length || !entries.every(Boolean) || !entries.some((entry) => entry.isDirectory)) {
      choose(plain, archiveName(plain));
      return;
    }
    try {
      const files = (await Promise.all(entries.map(filesOf))).flat();
      choose(files, entries.length === 1 ? entries[0].name : "");
    } catch (err) {
      showError("The dropped folder could not be read: " + (err && err.message ? err.message : err));
    }
  }

  document.addEventListener("dragover", (ev) => {
    ev.preventDefault();  // lets the page take the drop, instead of the browser opening the file
    form.classList.add("dragging");
  });
  document.addEventListener("dragleave", (ev) => {
    if (!ev.relatedTarget) form.classList.remove("dragging");
  });
  document.addEventListener("drop", (ev) => {
    ev.preventDefault();
    form.classList.remove("dragging");
    if (!xhr) dropped(ev.dataTransfer);
  });

  function progress(text, value) {
    $("upload-progress-box").hidden = false;
    $("upload-status").textContent = text;
    if (value === null) $("upload-progress").removeAttribute("value");  // indeterminate: the server is working
    else $("upload-progress").value = value;
  }

  function finished() {
    xhr = null;
    submit.disabled = false;
    cancel.hidden = true;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (xhr) return;
    if (!chosen.length) {
      if (errorBox.hidden) showError("Choose or drop an image, several, a folder or a ZIP archive first.");
      return;
    }
    errorBox.hidden = true;
    const single = chosen.length === 1 && kind(chosen[0]) === "image";
    const data = new FormData();
    data.append("csrf_token", form.elements.csrf_token.value);
    for (const file of chosen) data.append(single ? "file" : "files", file, file.name);
    if (!single && nameInput.value.trim()) data.append("name", nameInput.value.trim());
    const total = chosen.reduce((sum, f) => sum + f.size, 0);

    const req = xhr = new XMLHttpRequest();
    req.open("POST", single ? form.action : form.dataset.batchUrl);
    req.setRequestHeader("Accept", "application/json");  // the server's refusals come back as {error, status}
    req.upload.onprogress = (ev) => {
      const sent = ev.lengthComputable ? ev.loaded / ev.total : 0;
      progress("Uploading: " + size(sent * total) + " of " + size(total) + " (" + Math.floor(sent * 100) + " %)",
               sent * 100);
    };
    req.upload.onload = () => progress("Uploaded; the server is checking the files…", null);
    req.onload = () => {
      let body = null;
      try { body = JSON.parse(req.responseText); } catch (err) { /* not JSON: a proxy's page */ }
      if (req.status >= 200 && req.status < 300 && body && body.page_url) {
        progress("Uploaded. Opening the " + (single ? "result" : "batch") + "…", 100);
        window.location.assign(body.page_url);
        return;
      }
      finished();
      $("upload-progress-box").hidden = true;
      showError("Refused (" + req.status + "): " + (body && body.error ? body.error : req.statusText || "no answer"));
    };
    req.onerror = () => {
      finished();
      showError("The upload failed: the connection was lost or the server closed it (a batch may be at most " +
                size(limits.batchBytes) + ").");
    };
    req.onabort = () => {
      finished();
      progress("Upload cancelled.", 0);
    };
    submit.disabled = true;
    cancel.hidden = false;
    progress("Uploading…", 0);
    req.send(data);
  });

  cancel.addEventListener("click", () => { if (xhr) xhr.abort(); });

  // A pasted link: the server fetches it within the request, then answers as for one uploaded image.
  const linkForm = $("link-form"), linkInput = $("link-url"), linkSubmit = $("link-submit"),
        linkStatus = $("link-status");
  if (linkForm) {
    linkForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (xhr) return;
      const url = linkInput.value.trim();
      errorBox.hidden = true;
      if (!url) {
        showError("Paste the link of an image first.");
        return;
      }
      const data = new FormData();
      data.append("csrf_token", linkForm.elements.csrf_token.value);
      data.append("url", url);
      const req = xhr = new XMLHttpRequest();
      req.open("POST", linkForm.action);
      req.setRequestHeader("Accept", "application/json");
      const done = () => {
        xhr = null;
        linkSubmit.disabled = false;
        submit.disabled = false;
      };
      req.onload = () => {
        let body = null;
        try { body = JSON.parse(req.responseText); } catch (err) { /* not JSON: a proxy's page */ }
        if (req.status >= 200 && req.status < 300 && body && body.page_url) {
          linkStatus.textContent = "Fetched. Opening the result…";
          window.location.assign(body.page_url);
          return;
        }
        done();
        linkStatus.hidden = true;
        showError("Refused (" + req.status + "): " + (body && body.error ? body.error : req.statusText || "no answer"));
      };
      req.onerror = () => {
        done();
        linkStatus.hidden = true;
        showError("The link could not be sent: the connection was lost or the server closed it.");
      };
      linkSubmit.disabled = true;
      submit.disabled = true;
      linkStatus.hidden = false;
      linkStatus.textContent = "The server is fetching the image…";
      req.send(data);
    });
  }
})();
