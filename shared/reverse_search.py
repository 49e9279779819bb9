"""Reverse image search hand-off: public engines that look up an image by its URL, one list for every page.

Nothing is sent to any of them by this service: the result page of an analysis submitted by link shows a link per
engine carrying the image's URL (URL-encoded into the engine's query), and only the user's click opens it, in a
new tab, without a Referer (rel="noopener noreferrer"). Uploaded files have no URL and get no links.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Engine:
    name: str
    template: str  # "{url}": the image's URL, percent-encoded as one query value

    def link(self, image_url: str) -> str:
        return self.template.format(url=quote(image_url, safe=""))


ENGINES = (
    Engine("Google Lens", "https://lens.google.com/uploadbyurl?url={url}"),
    Engine("Bing", "https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:{url}"),
    Engine("TinEye", "https://tineye.com/search?url={url}"),
    Engine("Yandex", "https://yandex.com/images/search?rpt=imageview&url={url}"),
)


def links(image_url: str | None) -> list[tuple[str, str]]:
    """(engine name, its search link) for an image URL; none without one."""
    if not image_url:
        return []
    return [(engine.name, engine.link(image_url)) for engine in ENGINES]
