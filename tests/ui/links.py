"""What a page links to and how it is built: every URL-bearing attribute, headings, form controls and labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

URL_ATTRS = {"href", "src", "action", "formaction", "hx-get", "hx-post", "poster", "srcset"}


@dataclass
class PageParts:
    urls: list[tuple[str, str, str]] = field(default_factory=list)
    """``(tag, attribute, value)`` of every URL-bearing attribute."""
    h1: int = 0
    ids: list[str] = field(default_factory=list)
    label_for: set[str] = field(default_factory=set)
    controls: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    """``(tag, id, type)`` of every input, select and textarea."""
    lang: str | None = None
    scripts_inline: int = 0


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts = PageParts()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name in URL_ATTRS and value is not None:
                self.parts.urls.append((tag, name, value))
        if tag == "h1":
            self.parts.h1 += 1
        if a.get("id"):
            self.parts.ids.append(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.parts.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea"):
            self.parts.controls.append((tag, a.get("id"), a.get("type")))
        if tag == "html":
            self.parts.lang = a.get("lang")
        if tag == "script" and not a.get("src"):
            self.parts.scripts_inline += 1


def parse(html: str) -> PageParts:
    p = _Parser()
    p.feed(html)
    return p.parts


def internal(page_url: str, value: str) -> str | None:
    """The path and query a link points to on this server (None: another host, a fragment, mailto...)."""
    target = urljoin(page_url, value)
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or parts.netloc != urlsplit(page_url).netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
