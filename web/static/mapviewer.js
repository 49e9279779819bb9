// The map viewer of the result page: a forensic map opened large over the analysed image (the preview, which the
// worker makes at the maps' size), zoomed and panned together, as an overlay with an opacity slider or side by
// side. Opened by any element with data-map-url (result.js gives each map one); built with the DOM only, no
// framework and nothing fetched but the two images.
(function () {
  "use strict";
  const MIN_ZOOM_OF_FIT = 0.5, MAX_ZOOM = 16, STEP = 1.5, PAN_STEP = 60;
  let dialog = null, ui = null;
  // one transform for every image of the viewer: screen = translate(x, y) scale(scale) applied to preview pixels
  const view = {scale: 1, x: 0, y: 0, width: 1, height: 1, fitted: true};
  const pointers = new Map();

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }
  const button = (act, label, text) => el("button", {type: "button", "data-act": act, "aria-label": label, title: label, text});

  function build() {
    ui = {};
    ui.title = el("h2", {id: "mv-title", text: "Forensic map"});
    ui.choice = el("select", {id: "mv-map", "aria-label": "Map shown"});
    ui.zoomText = el("output", {id: "mv-zoom", "aria-live": "polite", "aria-label": "Zoom"});
    ui.opacity = el("input", {type: "range", id: "mv-opacity", min: "0", max: "100", value: "60"});
    ui.opacityText = el("output", {for: "mv-opacity", text: "60 %"});
    const mode = (value, text, checked) => {
      const input = el("input", {type: "radio", name: "mv-mode", value});
      input.checked = checked;
      return el("label", {class: "mv-choice"}, input, " " + text);
    };
    ui.modes = el("fieldset", {class: "mv-modes"}, el("legend", {class: "visually-hidden", text: "Layout"}),
      mode("overlay", "Overlay", true), mode("side", "Side by side", false));
    ui.opacityBox = el("label", {class: "mv-opacity"}, "Map opacity ", ui.opacity, " ", ui.opacityText);
    const tools = el("div", {class: "mv-tools", role: "toolbar", "aria-label": "Zoom and layout"},
      button("zoom-out", "Zoom out", "−"), button("zoom-in", "Zoom in", "+"), button("fit", "Fit to the window", "Fit"),
      button("actual", "Actual size: one image pixel per screen pixel", "1:1"), ui.zoomText, ui.modes, ui.opacityBox);
    const head = el("header", {class: "mv-head"}, ui.title, ui.choice, button("close", "Close the map viewer", "×"));
    ui.image = el("img", {class: "mv-image", alt: "The analysed image", draggable: "false"});
    ui.over = el("img", {class: "mv-map mv-over", alt: "", draggable: "false"});
    ui.side = el("img", {class: "mv-map", alt: "", draggable: "false"});
    ui.panes = [el("div", {class: "mv-pane", "data-pane": "image"}, ui.image, ui.over),
                el("div", {class: "mv-pane", "data-pane": "map"}, ui.side)];
    ui.stage = el("div", {class: "mv-stage", "data-mode": "overlay", tabindex: "0",
                          "aria-label": "The image and the map: drag to pan, wheel or pinch to zoom"}, ...ui.panes);
    ui.hint = el("p", {class: "hint mv-hint", text: "Drag to pan; wheel, pinch or + and − to zoom; Esc closes."});
    dialog = el("dialog", {id: "map-viewer", class: "mapviewer", "aria-labelledby": "mv-title"},
      head, tools, ui.stage, ui.hint);
    document.body.append(dialog);

    dialog.addEventListener("click", (e) => {
      const act = e.target.closest("[data-act]");
      if (act) actions[act.dataset.act]();
    });
    ui.choice.addEventListener("change", () => show(ui.choice.selectedOptions[0].dataset, false));
    ui.modes.addEventListener("change", (e) => setMode(e.target.value));
    ui.opacity.addEventListener("input", setOpacity);
    dialog.addEventListener("keydown", onKey);
    ui.stage.addEventListener("wheel", onWheel, {passive: false});
    for (const pane of ui.panes) {
      pane.addEventListener("pointerdown", onDown);
      pane.addEventListener("pointermove", onMove);
      pane.addEventListener("pointerup", onUp);
      pane.addEventListener("pointercancel", onUp);
    }
    window.addEventListener("resize", () => { if (dialog.open && view.fitted) fit(); });
  }

  const paneBox = () => ui.panes[0].getBoundingClientRect();
  const fitScale = () => { const b = paneBox(); return Math.min(b.width / view.width, b.height / view.height); };

  function apply() {
    const t = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    for (const img of [ui.image, ui.over, ui.side]) {
      img.style.width = view.width + "px";
      img.style.height = view.height + "px";
      img.style.transform = t;
    }
    // past 2x the pixels themselves are what is being examined: no smoothing between them
    ui.stage.classList.toggle("mv-pixels", view.scale >= 2);
    ui.zoomText.textContent = Math.round(view.scale * 100) + " %";
  }

  function zoomTo(scale, cx, cy) {
    const s = Math.min(MAX_ZOOM, Math.max(fitScale() * MIN_ZOOM_OF_FIT, scale));
    const b = paneBox();
    const px = cx === undefined ? b.width / 2 : cx, py = cy === undefined ? b.height / 2 : cy;
    view.x = px - (px - view.x) * (s / view.scale);  // the point under the cursor stays where it is
    view.y = py - (py - view.y) * (s / view.scale);
    view.scale = s;
    view.fitted = false;
    apply();
  }

  function fit() {
    const b = paneBox(), s = fitScale();
    Object.assign(view, {scale: s, x: (b.width - view.width * s) / 2, y: (b.height - view.height * s) / 2, fitted: true});
    apply();
  }

  function pan(dx, dy) {
    view.x += dx; view.y += dy; view.fitted = false;
    apply();
  }

  const actions = {
    "zoom-in": () => zoomTo(view.scale * STEP),
    "zoom-out": () => zoomTo(view.scale / STEP),
    fit,
    actual: () => zoomTo(1),
    close: () => dialog.close(),
  };

  function setMode(mode) {
    ui.stage.dataset.mode = mode;
    ui.opacityBox.hidden = mode !== "overlay" || !ui.image.getAttribute("src");
    ui.panes[1].hidden = mode !== "side";
    requestAnimationFrame(() => (view.fitted ? fit() : apply()));  // the panes' size changed
  }

  function setOpacity() {
    ui.over.style.opacity = String(ui.opacity.value / 100);
    ui.opacityText.textContent = ui.opacity.value + " %";
  }

  function onKey(e) {
    if (e.target.matches("input, select") && !["+", "=", "-", "_"].includes(e.key)) return;
    const keys = {"+": actions["zoom-in"], "=": actions["zoom-in"], "-": actions["zoom-out"], "_": actions["zoom-out"],
      "0": fit, "1": actions.actual, ArrowLeft: () => pan(PAN_STEP, 0), ArrowRight: () => pan(-PAN_STEP, 0),
      ArrowUp: () => pan(0, PAN_STEP), ArrowDown: () => pan(0, -PAN_STEP)};
    if (keys[e.key] && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); keys[e.key](); }
  }

  function local(e) {
    const b = e.currentTarget.getBoundingClientRect();
    return [e.clientX - b.left, e.clientY - b.top];
  }

  function onWheel(e) {
    e.preventDefault();
    const pane = e.target.closest(".mv-pane");
    if (!pane) return;
    const b = pane.getBoundingClientRect();
    zoomTo(view.scale * Math.exp(-e.deltaY * 0.0015), e.clientX - b.left, e.clientY - b.top);
  }

  // one pointer pans; two (a pinch) zoom about their midpoint and pan with it
  function onDown(e) {
    e.currentTarget.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, local(e));
  }

  function onMove(e) {
    if (!pointers.has(e.pointerId)) return;
    const before = [...pointers.values()];
    pointers.set(e.pointerId, local(e));
    const now = [...pointers.values()];
    if (now.length === 1) { pan(now[0][0] - before[0][0], now[0][1] - before[0][1]); return; }
    const dist = (p) => Math.hypot(p[0][0] - p[1][0], p[0][1] - p[1][1]);
    const mid = (p) => [(p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2];
    const [m0, m1] = [mid(before), mid(now)];
    pan(m1[0] - m0[0], m1[1] - m0[1]);
    if (dist(before) > 0) zoomTo(view.scale * dist(now) / dist(before), m1[0], m1[1]);
  }

  function onUp(e) {
    pointers.delete(e.pointerId);
  }

  const loaded = (img) => (img.complete && img.naturalWidth ? Promise.resolve() :
    new Promise((ok) => { img.onload = ok; img.onerror = ok; }));

  async function show(map, refit) {
    ui.title.textContent = map.mapTitle || "Forensic map";
    for (const img of [ui.over, ui.side]) { img.src = map.mapUrl; img.alt = map.mapTitle || "Forensic map"; }
    await Promise.all([loaded(ui.over), loaded(ui.image)]);
    // the map is stretched over the preview's box: both are the upright image at (about) the same size
    const base = ui.image.naturalWidth ? ui.image : ui.over;
    view.width = base.naturalWidth || 1;
    view.height = base.naturalHeight || 1;
    if (refit) fit(); else apply();
  }

  function open(trigger) {
    if (!dialog) build();
    const options = [...document.querySelectorAll("#maps [data-map-url]")].filter((b) => b.tagName === "BUTTON");
    ui.choice.replaceChildren(...options.map((b) => {
      const o = el("option", {value: b.dataset.mapUrl, text: b.dataset.mapTitle});
      Object.assign(o.dataset, {mapUrl: b.dataset.mapUrl, mapTitle: b.dataset.mapTitle});
      o.selected = b.dataset.mapUrl === trigger.dataset.mapUrl;
      return o;
    }));
    ui.choice.hidden = options.length < 2;
    const preview = document.getElementById("preview");
    const src = preview && !preview.hidden && preview.getAttribute("src");
    if (src) ui.image.src = src; else ui.image.removeAttribute("src");
    ui.image.hidden = !src;
    ui.modes.hidden = !src;  // without the image there is nothing to lay the map over
    setMode(src ? ui.stage.dataset.mode : "overlay");
    if (src) setOpacity(); else ui.over.style.opacity = "1";
    dialog.showModal();
    ui.stage.focus();
    show(trigger.dataset, true);
  }

  document.addEventListener("click", (e) => {
    const trigger = e.target.closest("[data-map-url]");
    if (trigger && !trigger.closest("#map-viewer")) { e.preventDefault(); open(trigger); }
  });
})();
