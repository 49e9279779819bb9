"""The map viewer in a real Chromium, on maps a real worker made: opened from a map, the image and the map zoom
and pan in one transform, the overlay's opacity follows its slider, side by side shows two panes in the same
transform, Esc closes, and at 390 px the dialog fits the phone."""
from __future__ import annotations

import pytest

from tests.conftest import camera_like_jpeg
from tests.test_browser import DESKTOP, PHONE, upload
from tests.test_browser_result import browser, live  # noqa: F401 - the result page's live server, worker, Chromium

pytestmark = pytest.mark.slow
# each image of the viewer: its computed transform (scale, x, y) and where it is drawn in its pane
STATE = """() => [...document.querySelectorAll('#map-viewer img')].filter((i) => i.getClientRects().length)
  .map((i) => { const m = new DOMMatrix(getComputedStyle(i).transform), r = i.getBoundingClientRect(),
                      p = i.parentElement.getBoundingClientRect();
    return {cls: i.className, scale: m.a, x: m.e, y: m.f, rect: [r.left - p.left, r.top - p.top, r.width, r.height]}; })"""
SHOWN = """() => { const d = document.getElementById('map-viewer'), o = d && d.querySelector('.mv-over');
  return d && d.open && o.complete && o.naturalWidth > 0 && o.style.transform !== ''; }"""


@pytest.fixture(scope="module")
def mapped_result(live, browser, tmp_path_factory):  # noqa: F811
    """A 1200 x 900 camera JPEG analysed by the real worker, its maps made: the result page's URL."""
    web, _ = live
    page = browser.new_page(viewport=DESKTOP)
    try:
        url = upload(page, web.url, camera_like_jpeg(tmp_path_factory.mktemp("mv") / "camera.jpg", (1200, 900)))
        page.locator("#maps button.examine").nth(2).wait_for(timeout=180_000)
        return url
    finally:
        page.close()


def near(value: float):
    """Equal as far as a computed style writes it (six significant digits)."""
    return pytest.approx(value, rel=1e-4)


def _state(page) -> list[dict]:
    return page.evaluate(STATE)


def _shared(state: list[dict]) -> dict:
    """The one transform every visible image has (asserting that they share it)."""
    first = state[0]
    for other in state[1:]:
        assert [other["scale"], other["x"], other["y"]] == pytest.approx([first["scale"], first["x"], first["y"]],
                                                                         rel=1e-4), state
        assert other["rect"] == pytest.approx(first["rect"], abs=0.5), state  # same geometry: the map lies on the image
    return first


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_map_viewer_zooms_pans_overlays_and_closes(mapped_result, browser, viewport, tmp_path):  # noqa: F811
    page = browser.new_page(viewport=viewport, has_touch=viewport is PHONE)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(mapped_result)
        page.locator("#maps button.examine").first.wait_for(timeout=60_000)
        page.locator("#maps button.examine").first.click()
        page.wait_for_function(SHOWN, timeout=15_000)
        assert page.locator("#mv-title").inner_text() == "Error level analysis"
        start = _shared(_state(page))
        assert len(_state(page)) == 2  # overlay: the image and the map over it, in one pane
        pane = page.locator(".mv-pane").first.bounding_box()
        # fitted: the whole image inside its pane
        assert start["rect"][2] <= pane["width"] + 1 and start["rect"][3] <= pane["height"] + 1

        page.get_by_role("button", name="Zoom in").click()
        zoomed = _shared(_state(page))
        assert zoomed["scale"] == near(start["scale"] * 1.5)
        page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
        page.mouse.wheel(0, -300)
        page.wait_for_function(f"() => new DOMMatrix(getComputedStyle(document.querySelector('.mv-image')).transform).a"
                               f" > {zoomed['scale'] * 1.2}")
        wheeled = _shared(_state(page))
        page.keyboard.press("-")
        assert _shared(_state(page))["scale"] == near(wheeled["scale"] / 1.5)
        page.keyboard.press("+")
        assert _shared(_state(page))["scale"] == near(wheeled["scale"])

        # drag to pan: both move by the drag, the scale stays
        cx, cy = pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 40, cy + 30, steps=4)
        page.mouse.move(cx + 80, cy + 60, steps=4)
        page.mouse.up()
        panned = _shared(_state(page))
        assert panned["scale"] == near(wheeled["scale"])
        assert (panned["x"] - wheeled["x"], panned["y"] - wheeled["y"]) == pytest.approx((80, 60), abs=1)

        # the map's opacity follows the slider, 0-100 %
        over = page.locator(".mv-over")
        slider = page.locator("#mv-opacity")
        slider.focus()
        page.keyboard.press("Home")
        assert over.evaluate("(o) => getComputedStyle(o).opacity") == "0"
        page.keyboard.press("End")
        assert over.evaluate("(o) => getComputedStyle(o).opacity") == "1"
        for _ in range(25):
            page.keyboard.press("ArrowLeft")
        assert float(over.evaluate("(o) => getComputedStyle(o).opacity")) == pytest.approx(0.75)
        assert "75 %" in page.locator(".mv-opacity output").inner_text()
        page.screenshot(path=str(tmp_path / "overlay.png"))

        # side by side: two panes, the image in one and the map in the other, one transform
        page.get_by_label("Side by side").check()
        page.wait_for_function("() => document.querySelectorAll('.mv-pane:not([hidden])').length === 2")
        page.get_by_role("button", name="Fit to the window").click()
        side = _state(page)
        assert [s["cls"] for s in side] == ["mv-image", "mv-map"] and page.locator("#mv-opacity").is_hidden()
        fitted = _shared(side)
        panes = [page.locator(".mv-pane").nth(k).bounding_box() for k in (0, 1)]
        apart = panes[0]["x"] + panes[0]["width"] <= panes[1]["x"] + 1 or \
            panes[0]["y"] + panes[0]["height"] <= panes[1]["y"] + 1  # beside, or above it on a phone
        assert apart, panes
        page.get_by_role("button", name="Zoom in").click()
        assert _shared(_state(page))["scale"] == near(fitted["scale"] * 1.5)
        page.get_by_role("button", name="Actual size: one image pixel per screen pixel").click()
        assert _shared(_state(page))["scale"] == near(1)
        box = page.locator(".mv-pane").nth(1).bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 20)  # a drag in the map's pane moves the image's too
        before = _shared(_state(page))
        page.mouse.down()
        page.mouse.move(box["x"] + 10, box["y"] + 5, steps=3)
        page.mouse.up()
        after = _shared(_state(page))
        assert (after["x"] - before["x"], after["y"] - before["y"]) == pytest.approx((-10, -15), abs=1)

        page.screenshot(path=str(tmp_path / "side-by-side.png"))
        # another map from the viewer's own choice, the view kept
        page.select_option("#mv-map", label="Noise residual")
        page.wait_for_function("() => document.querySelector('.mv-over').src.endsWith('noise.png')")
        assert page.locator("#mv-title").inner_text() == "Noise residual"

        if viewport is PHONE:  # a two-finger pinch on the map's pane zooms both panes about the fingers' midpoint
            before = _shared(_state(page))
            box = page.locator(".mv-pane").nth(1).bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            touch = page.context.new_cdp_session(page)
            for kind, half in (("touchStart", 40), ("touchMove", 60), ("touchMove", 80)):
                touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
                    {"x": cx - half, "y": cy, "id": 1}, {"x": cx + half, "y": cy, "id": 2}]})
            touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            assert _shared(_state(page))["scale"] == pytest.approx(before["scale"] * 2, rel=0.02)
            fits = page.evaluate("""() => { const r = document.getElementById('map-viewer').getBoundingClientRect();
              return {scroll: document.documentElement.scrollWidth, right: r.right, bottom: r.bottom,
                      small: [...document.querySelectorAll('#map-viewer button')].filter((b) => b.offsetWidth &&
                        (b.offsetHeight < 44 || b.offsetWidth < 44)).map((b) => b.textContent)}; }""")
            assert max(fits["scroll"], fits["right"]) <= PHONE["width"] and fits["bottom"] <= PHONE["height"], fits
            assert fits["small"] == [], fits  # touch-sized controls

        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('map-viewer').open")
        # and open again from the map itself
        page.locator("#maps img[data-map-url]").nth(2).click()
        page.wait_for_function(SHOWN, timeout=15_000)
        assert page.locator("#mv-title").inner_text() == "Model attention (Grad-CAM)"
        page.get_by_role("button", name="Close the map viewer").click()
        assert not page.evaluate("document.getElementById('map-viewer').open")
        assert errors == []
    finally:
        page.close()
