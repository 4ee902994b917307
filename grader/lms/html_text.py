"""HTML question text into plain text, with a note for each image or media file left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

# ---------------------------------------------------------------- HTML to text

MEDIA_TAGS = {
    "img": ("src", "image"),
    "audio": ("src", "audio"),
    "video": ("src", "video"),
    "source": ("src", "media file"),
    "iframe": ("src", "embedded page"),
    "embed": ("src", "embedded object"),
    "object": ("data", "embedded object"),
}
PLUGINFILE = "@@PLUGINFILE@@/"


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset(
        {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol"}
        | {"table", "section", "article", "header", "footer"}
    )
    LINES = frozenset(("li", "tr", "dt", "dd"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.media: list[tuple[str, str]] = []  # (kind, name or address) of what is dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._note_media(tag, dict(attrs))
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag in self.LINES:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("script", "style"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"\s+", " ", data))

    def _note_media(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "a" and attrs.get("href"):
            self.media.append(("link", _media_name(attrs["href"] or "")))
        elif tag in MEDIA_TAGS:
            attribute, kind = MEDIA_TAGS[tag]
            self.media.append((kind, _media_name(attrs.get(attribute) or "")))


def _media_name(address: str) -> str:
    address = address.strip()
    if address.startswith("data:"):
        return "inline data"
    return unquote(address.removeprefix(PLUGINFILE))


def media_note(kind: str, name: str, where: str) -> str:
    if kind == "link":
        return f"the link to '{name}' dropped from {where} (its text is kept)"
    return f"{kind} '{name}' dropped from {where}" if name else f"{kind} dropped from {where}"


def html_text(markup: str) -> tuple[str, list[tuple[str, str]]]:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return tidy_text("".join(extractor.parts)), extractor.media


def html_to_text(markup: str) -> str:
    """Text of HTML: tags dropped, entities decoded, paragraphs and <br> kept as line breaks."""
    return html_text(markup)[0]


def tidy_text(text: str) -> str:
    """Collapse spaces within lines and runs of blank lines; strip the ends."""
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in text.splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()
