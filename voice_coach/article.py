"""An article's text as lines with their structure: plain text, Markdown or saved HTML in.

Pure: text in, :class:`Line` records out. HTML goes through html2text (to Markdown), and
Markdown or plain text through markdown-it-py, so headings, list items and paragraphs
come out the same whichever form the page was saved in. The importer reads these lines.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

#: Characters that open a bullet in text copied from a web page, beyond Markdown's own.
_BULLET = re.compile(r"^\s*(?:[•·▪▸►●○◦■□✓✔➤→*+-]|[\u2013\u2014](?=\s))\s*")
_HTML_HINT = re.compile(
    r"<(?:!doctype\s+html|html|body|head|p|div|h[1-6]|ul|ol|li|br|article|section|span)\b",
    re.IGNORECASE,
)
_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
#: Containers whose text is never part of the article (html2text keeps some of it).
_DROPPED_HTML = re.compile(
    r"<(script|style|noscript|svg|nav|footer|form|iframe|template)\b.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Line:
    """One line of an article, with where it stood in the page's structure."""

    text: str
    #: "heading", "item" (the first line of a list item) or "text".
    kind: str
    #: Paragraph number: lines of one paragraph or list item share it.
    block: int
    #: Heading level (1 to 6); for items and text, the list depth (0 outside lists).
    level: int = 0
    #: The item's number in an ordered list, if any.
    number: int | None = None


@dataclass(frozen=True)
class Article:
    """An article as structured lines, with the page's own title if it declared one."""

    lines: tuple[Line, ...]
    title: str | None = None


def looks_like_html(text: str) -> bool:
    """Whether ``text`` is an HTML page or fragment rather than plain text or Markdown."""
    return len(_HTML_HINT.findall(text[:200_000])) >= 2


def read_article(text: str) -> Article:
    """Split ``text`` (plain text, Markdown or HTML) into lines with their structure."""
    title = None
    if looks_like_html(text):
        found = _TITLE_TAG.search(text)
        if found:
            title = _clean(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))) or None
        text = _html_to_markdown(_DROPPED_HTML.sub(" ", text))
    return Article(tuple(_markdown_lines(text)), title)


def _html_to_markdown(page: str) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0  # never wrap: a wrapped line would read as two lines
    converter.ignore_links = True
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.unicode_snob = True
    return converter.handle(page)


def _markdown_lines(text: str) -> list[Line]:
    from markdown_it import MarkdownIt

    # "commonmark" without raw HTML: tags left in a page are dropped, their text kept.
    parser = MarkdownIt("commonmark", {"html": False})
    tokens = parser.parse(text)
    lines: list[Line] = []
    block = 0
    list_depth = 0
    numbers: list[int | None] = []
    heading_level = 0
    item_starts = False
    for token in tokens:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
            start = token.attrGet("start")
            numbers.append(int(start) - 1 if kind == "ordered_list_open" and start else None)
            if kind == "ordered_list_open" and not start:
                numbers[-1] = 0
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
            numbers.pop()
        elif kind == "list_item_open":
            item_starts = True
            if numbers and numbers[-1] is not None:
                numbers[-1] += 1
        elif kind == "heading_open":
            heading_level = int(token.tag[1:])
        elif kind == "heading_close":
            heading_level = 0
        elif kind == "inline":
            block += 1
            for index, piece in enumerate(_inline_lines(token)):
                if heading_level:
                    lines.append(Line(piece, "heading", block, heading_level))
                elif item_starts and index == 0:
                    number = numbers[-1] if numbers else None
                    lines.append(Line(piece, "item", block, list_depth, number))
                else:
                    lines.append(_plain_line(piece, block, list_depth))
            item_starts = False
        elif kind in ("code_block", "fence", "html_block"):
            # Text indented four spaces is still the article's text, not code.
            block += 1
            for raw in token.content.splitlines():
                piece = _clean(re.sub(r"<[^>]+>", " ", raw))
                if piece:
                    lines.append(_plain_line(piece, block))
                elif lines and lines[-1].block == block:
                    block += 1
    return lines


def _plain_line(text: str, block: int, depth: int = 0) -> Line:
    """A line of running text; a bullet copied as a character makes it a list item.

    ``depth`` is the list depth of the item the line continues (0 outside lists).
    """
    bullet = _BULLET.match(text)
    if bullet and bullet.end() < len(text):
        return Line(_clean(text[bullet.end() :]), "item", block, depth + 1)
    return Line(text, "text", block, depth)


def _inline_lines(token) -> list[str]:
    """The visible text of an inline token, split at its line breaks; images dropped."""
    pieces: list[str] = [""]
    for child in token.children or ():
        if child.type in ("softbreak", "hardbreak"):
            pieces.append("")
        elif child.type in ("text", "code_inline"):
            pieces[-1] += child.content
        elif child.type == "image":
            continue  # alt text is a caption, never an instruction
    return [cleaned for cleaned in (_clean(piece) for piece in pieces) if cleaned]


def _clean(text: str) -> str:
    """Visible characters only, with runs of white space made one space."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\t\n\r\u00a0" or category == "Zs":
            kept.append(" ")
        elif category[0] != "C":  # control, format, surrogate, private, unassigned
            kept.append(char)
    return " ".join("".join(kept).split())
