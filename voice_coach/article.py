"""An article's text as lines with their structure: plain text, Markdown or saved HTML in.

Pure: text in, :class:`Line` records out. A saved HTML page is read in one pass of our own:
scripts, styles, comments and page furniture dropped, character references decoded, and
headings, list items, paragraphs and line breaks giving the lines their structure.
Markdown or plain text goes through markdown-it-py for its block structure only
(headings, list items, paragraphs); its inline markup (links, emphasis, escapes,
entities) is read here in one pass. So headings, list items and paragraphs come out the
same whichever form the page was saved in.

Every stage takes time in proportion to the text: no pattern reads back over what it has
read or reads an unbounded string twice, nesting costs nothing, and an article with more
lines than any article has is refused up front with an :class:`ArticleError`.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, replace

from .errors import ArticleError

#: Most non-blank lines an article may have. A long saved article page has a few
#: hundred (a whole book of documentation saved as one page, about 2,300); each line
#: costs markdown-it and the importer up to 150 microseconds.
MAX_LINES = 3_000
#: Longest line handed on; a longer one is cut (at sentence ends where it can be) into
#: lines of the same paragraph, so no later pattern ever reads an unbounded string.
MAX_LINE_CHARS = 5_000

#: Characters that open a bullet in text copied from a web page, beyond Markdown's own.
_BULLET = re.compile(r"^\s*(?:[•·▪▸►●○◦■□✓✔➤→*+-]|[\u2013\u2014](?=\s))\s*")
_HTML_HINT = re.compile(
    r"<(?:!doctype\s+html|html|body|head|p|div|h[1-6]|ul|ol|li|br|article|section|span)\b",
    re.IGNORECASE,
)
#: One piece of HTML markup. Every quantifier stops at the next "<" or ">", so a page of
#: broken tags costs no more than a page of good ones.
_HTML_TOKEN = re.compile(
    r"<(?:(?P<comment>!--)|(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9:-]{0,40})"
    r"(?P<attributes>(?:[\s/][^<>]*)?)>|[!?][^<>]*>)"
)
#: Elements whose content is never part of the article.
_SKIPPED_ELEMENTS = {
    "script", "style", "noscript", "svg", "nav", "footer", "form", "iframe", "template",
    "title", "textarea", "select", "button", "math", "object",
}  # fmt: skip
#: Tags that end a paragraph (and start another): a browser shows them apart.
_BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "aside", "figure", "figcaption",
    "address", "center", "details", "summary", "fieldset", "legend", "table", "caption",
    "hgroup", "body", "blockquote", "hr", "dl", "dt", "dd", "ul", "ol", "menu", "dir",
    "li", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip
_LIST_TAGS = {"ul", "ol", "menu", "dir"}
_KEYCAP = re.compile(r"(\d)\ufe0f?\u20e3")
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_LIST_START = re.compile(r"\bstart\s*=\s*[\"']?\s*(\d{1,6})\b", re.IGNORECASE)
#: A character reference. Digits are matched in full so a too-long number is replaced as
#: a whole; a name is at most 32 characters, as in the HTML standard's table.
_REFERENCE = re.compile(
    r"&(?:#[xX](?P<hex>[0-9A-Fa-f]+)|#(?P<decimal>[0-9]+)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9]{0,31}))(?P<end>;?)"
)
#: Inline Markdown, read in one left-to-right pass: a backslash escape, an image, a link
#: (inline or by reference), an autolink. Every quantifier is bounded or stops at a
#: bracket, so no input makes it backtrack far.
_INLINE_MARKUP = re.compile(
    r"\\(?P<escaped>[!-/:-@\[-`{-~])?"
    r"|!\[[^\[\]]{0,500}\](?:\([^()]{0,2000}\)|\[[^\[\]]{0,500}\])"
    r"|\[(?P<link>[^\[\]]{0,500})\](?:\([^()]{0,2000}\)|\[[^\[\]]{0,500}\])"
    r"|<(?:https?|mailto|ftp):[^<>\s]{0,2000}>"
)
#: A run of emphasis marks or backticks: dropped where it pairs with a closing run.
_DELIMITER_RUN = re.compile(r"\*+|_+|`+")
#: Escaped delimiters stand in for themselves until the pairing is done.
_ESCAPED_DELIMITERS = {"*": "\ue003", "_": "\ue004", "`": "\ue005"}
_FROM_ESCAPED = str.maketrans({code: char for char, code in _ESCAPED_DELIMITERS.items()})


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
    #: The bold text the line opens with ("**Calves.** Sit with ..."), if any: the whole
    #: text when the whole line is bold.
    lead: str | None = None


@dataclass(frozen=True)
class Article:
    """An article as structured lines, with the page's own title if it declared one."""

    lines: tuple[Line, ...]
    title: str | None = None


def looks_like_html(text: str) -> bool:
    """Whether ``text`` is an HTML page or fragment rather than plain text or Markdown."""
    return len(_HTML_HINT.findall(text[:200_000])) >= 2


def read_article(text: str) -> Article:
    """Split ``text`` (plain text, Markdown or HTML) into lines with their structure.

    Raises
    ------
    ArticleError
        When the article has more than :data:`MAX_LINES` lines of text.
    """
    if looks_like_html(text):
        return html_lines(text)
    return Article(tuple(_markdown_lines(text)), None)


def html_lines(page: str) -> Article:
    """The lines of an HTML page, read in one pass, and its <title>.

    Comments, scripts, styles, images and page furniture (navigation, footers, forms) go;
    character references are decoded (a number out of range becomes U+FFFD). Headings,
    list items (with their list's depth and number), paragraphs and line breaks give the
    lines their structure, however deep the tags are nested.

    Raises
    ------
    ArticleError
        When the page has more than :data:`MAX_LINES` lines of text.
    """
    reader = _HtmlReader()
    title = None
    closes = _CloseFinder(page)
    position = 0
    while True:
        token = _HTML_TOKEN.search(page, position)
        text_end = token.start() if token else len(page)
        if text_end > position:
            reader.text(decode_references(page[position:text_end]))
        if token is None:
            break
        position = token.end()
        if token["comment"]:
            close = page.find("-->", position)
            position = len(page) if close < 0 else close + 3
            continue
        if token["name"] is None:
            continue  # <!doctype ...>, <?xml ...?>, <![CDATA[...]>
        name = token["name"].lower()
        closing = token["close"] == "/"
        if name in _SKIPPED_ELEMENTS and not closing:
            found = closes.find(name, position)
            if found is not None:
                if name == "title" and title is None:
                    title = _clean(decode_references(page[position : found[0]])) or None
                position = found[1]
            continue
        reader.tag(name, closing, token["attributes"])
    reader.end_block()
    return Article(tuple(reader.lines), title)


class _HtmlReader:
    """Turns a page's tags and text, in order, into :class:`Line` records."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.pieces: list[str] = []
        self.block = 1
        self.heading = 0
        #: One entry per open list: the number of its last item (None: not numbered).
        self.lists: list[int | None] = []
        self.item_starts = False
        self.number: int | None = None
        self.preformatted = False
        #: Whether the table row being read has header cells only so far.
        self.header_row = False
        #: The column names of the table being read, from its header row.
        self.columns: list[str] = []
        #: How deep inside <figure> the text is: a caption does not start a list item.
        self.figures = 0
        #: Where the bold text that opens the line starts (None: the line opens with none),
        #: and that text once it ends.
        self.lead_from: int | None = None
        self.lead: str | None = None
        #: Whether the line being read has any text but spaces yet (kept as it grows, so
        #: a tag never reads the line again: many tags on one line stay linear).
        self.has_text = False

    def text(self, text: str) -> None:
        """Add the page's ``text`` (references decoded) to the line being read."""
        if not self.preformatted or "\n" not in text:
            self._add(text)
            return
        first, *rest = text.split("\n")
        self._add(first)
        for piece in rest:
            if not self.has_text:
                self.end_block()  # a blank line in <pre> parts paragraphs
            self.end_line()
            self._add(piece)

    def _add(self, text: str) -> None:
        """Add ``text`` to the line being read, noting whether the line has text yet."""
        self.pieces.append(text)
        self.has_text = self.has_text or bool(text.strip())

    def tag(self, name: str, closing: bool, attributes: str) -> None:
        """Follow the tag ``name`` (a ``closing`` one or not): where lines and blocks end."""
        if name in ("strong", "b"):
            if not closing and self.lead is None and not self.has_text:
                self.lead_from = len(self.pieces)
            elif closing and self.lead_from is not None:
                self.lead = _clean("".join(self.pieces[self.lead_from :])) or None
                self.lead_from = None
        elif name in ("td", "th"):
            if not closing:
                self.header_row = self.header_row and name == "th"
                if self.has_text:
                    self._add(" | ")  # the cells of a row on one line, apart
        elif name == "tr":
            cells = [_clean(cell) for cell in "".join(self.pieces).split(" | ")]
            self.pieces.clear()
            self.has_text = False
            if closing and self.header_row:
                self.columns = cells  # a table's header row names its columns, not a step
            elif any(cells):
                self._add(table_row(cells, self.columns))
            self.end_line()
            self.header_row = not closing
        elif name == "table":
            self.end_block()
            self.columns = []
        elif name == "br":
            self.end_line()
        elif name in _BLOCK_TAGS:
            self.end_block()
            if name in _LIST_TAGS:
                self._list(name, closing, attributes)
            elif name == "li":
                self._item(closing)
            elif name in _HEADING_TAGS:
                self.heading = 0 if closing else int(name[1])
            elif name == "pre":
                self.preformatted = not closing
            elif name == "figure":
                self.figures = max(0, self.figures + (-1 if closing else 1))

    def _list(self, name: str, closing: bool, attributes: str) -> None:
        if closing:
            if self.lists:
                self.lists.pop()
        elif name == "ol":
            start = _LIST_START.search(attributes)
            self.lists.append(int(start.group(1)) - 1 if start else 0)
        else:
            self.lists.append(None)

    def _item(self, closing: bool) -> None:
        self.item_starts = not closing
        self.number = None
        if not closing and self.lists and self.lists[-1] is not None:
            self.lists[-1] += 1
            self.number = self.lists[-1]

    def end_line(self) -> None:
        """End the line being read; its text, if any, becomes one or more lines."""
        text = _clean("".join(self.pieces))
        self.pieces.clear()
        self.has_text = False
        lead = self.lead if self.lead and text.startswith(self.lead) else None
        self.lead = self.lead_from = None
        for piece in _bounded(text):
            if len(self.lines) >= MAX_LINES:
                raise _too_many_lines(f"over {MAX_LINES:,}")
            if self.heading:
                line = Line(piece, "heading", self.block, self.heading)
            elif self.item_starts and not self.figures:
                depth = max(1, len(self.lists))
                line = Line(piece, "item", self.block, depth, self.number)
                self.item_starts = False
            else:
                line = _plain_line(piece, self.block, len(self.lists))
            if lead:
                line = replace(line, lead=lead if line.text.startswith(lead) else None)
                lead = None
            self.lines.append(line)

    def end_block(self) -> None:
        """End the paragraph being read: the next line starts another."""
        self.end_line()
        if self.lines and self.lines[-1].block == self.block:
            self.block += 1


class _CloseFinder:
    """Finds an element's closing tag; remembers each search, so no text is read twice."""

    def __init__(self, page: str) -> None:
        self.page = page
        self.found: dict[str, tuple[int, tuple[int, int] | None]] = {}
        self.patterns: dict[str, re.Pattern] = {}

    def find(self, name: str, start: int) -> tuple[int, int] | None:
        """Where the first ``</name>`` at or after ``start`` begins and ends, if any."""
        searched_from, span = self.found.get(name, (len(self.page) + 1, None))
        if searched_from <= start and (span is None or span[0] >= start):
            return span  # the last search covered this one
        if name not in self.patterns:
            self.patterns[name] = re.compile(rf"</{name}\b[^<>]*>", re.IGNORECASE)
        match = self.patterns[name].search(self.page, start)
        span = match.span() if match else None
        self.found[name] = (start, span)
        return span


def decode_references(text: str, html_rules: bool = True) -> str:
    """``text`` with its character references (``&amp;``, ``&#233;``, ``&#xE9;``) decoded.

    A number out of Unicode's range, a surrogate or NUL (of any length) becomes U+FFFD, as
    browsers show it. With ``html_rules`` off (Markdown), a reference needs its ";".
    """

    def decode(match: re.Match) -> str:
        if not html_rules and not match["end"]:
            return match.group(0)
        if match["name"] is not None:
            return html.unescape(match.group(0))
        digits = (match["hex"] or match["decimal"]).lstrip("0") or "0"
        if len(digits) > 8:  # past U+10FFFF in either base; int() of it could be slow
            return "\ufffd"
        return html.unescape(f"&#{'x' if match['hex'] else ''}{digits};")

    return _REFERENCE.sub(decode, text) if "&" in text else text


def _check_line_count(text: str) -> None:
    if text.count("\n") <= MAX_LINES:
        return
    lines = sum(1 for line in text.splitlines() if line.strip())
    if lines > MAX_LINES:
        raise _too_many_lines(f"{lines:,}")


def _too_many_lines(count: str) -> ArticleError:
    return ArticleError(
        f"the article has {count} lines of text, more than the {MAX_LINES:,} any article "
        "needs; save just the part with the stretches and import that"
    )


def _markdown_lines(text: str) -> list[Line]:
    from markdown_it import MarkdownIt

    _check_line_count(text)
    # Block structure only: the inline markup is read by _inline_lines, in one pass.
    # "commonmark" without raw HTML: tags left in a page are dropped, their text kept.
    parser = MarkdownIt("commonmark", {"html": False}).disable("inline")
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
                # The number as written: a list that starts again at 1 after blank lines
                # is one list to Markdown, but two lists of steps to the article.
                written = token.info
                numbers[-1] = int(written) if written.isdigit() else numbers[-1] + 1
        elif kind == "heading_open":
            heading_level = int(token.tag[1:])
        elif kind == "heading_close":
            heading_level = 0
        elif kind == "inline":
            block += 1
            table = _pipe_table(token.content) if not heading_level else None
            led: list[tuple[str, str | None]]
            if table is not None:
                led = [(row, None) for row in table if row]
            else:
                led = _inline_lines(token.content)
            for index, (piece, lead) in enumerate(led):
                if heading_level:
                    line = Line(piece, "heading", block, heading_level)
                elif item_starts and index == 0:
                    number = numbers[-1] if numbers else None
                    line = Line(piece, "item", block, list_depth, number)
                else:
                    line = _plain_line(piece, block, list_depth)
                if lead and line.text.startswith(lead):
                    line = replace(line, lead=lead)
                lines.append(line)
            item_starts = False
        elif kind in ("code_block", "fence", "html_block"):
            # Text indented four spaces is still the article's text, not code.
            block += 1
            for raw in token.content.splitlines():
                pieces = _bounded(_clean(re.sub(r"<[^<>]*>", " ", raw)))
                for piece in pieces:
                    lines.append(_plain_line(piece, block))
                if not pieces and lines and lines[-1].block == block:
                    block += 1
    return lines


#: Column names that say the column names the stretch; and those that number the rows.
_NAME_COLUMN = re.compile(
    r"^(?:stretch|exercise|move|movement|pose|name|activity|drill)e?s?$", re.IGNORECASE
)
_NUMBER_COLUMN = re.compile(r"^(?:#|no\.?|number|step|order)?$", re.I)
#: A cell that says nothing: "—", "-", "n/a".
_EMPTY_CELL = re.compile(r"^[\s\u2013\u2014\-\u2012/]*$|^n/?a$", re.I)
#: Markdown's pipe table: a header line, then "|---|:--:|" under it.
_PIPE_DELIMITER = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


def table_row(cells: list[str], columns: list[str]) -> str:
    """A table's row as one line, "name | Column: cell | ...": the stretch's name first
    (from the column that names it, else the first), each other cell led by its column's
    name so that "Hold", "Sets", "Sides" read as fields; row numbers and empty cells go."""
    named = [(columns[index] if index < len(columns) else "", cell) for index, cell in
             enumerate(cells)]  # fmt: skip
    kept = [
        (column, cell)
        for column, cell in named
        if not _EMPTY_CELL.match(cell)
        and not (_NUMBER_COLUMN.match(column) and re.fullmatch(r"\d{1,3}\.?", cell))
    ]
    if not kept:
        return ""
    first = next((index for index, (column, _) in enumerate(kept) if _NAME_COLUMN.match(column)), 0)
    name = kept.pop(first)[1]
    rest = [f"{column}: {cell}" if column and not _NAME_COLUMN.match(column) else cell
            for column, cell in kept]  # fmt: skip
    return " | ".join([name, *rest])


def _pipe_table(content: str) -> list[str] | None:
    """The rows of a Markdown pipe table (header, delimiter, rows), each as
    :func:`table_row` gives it; None if ``content`` is not one."""
    rows = content.split("\n")
    if len(rows) < 3 or "|" not in rows[0] or not _PIPE_DELIMITER.match(rows[1]):
        return None

    def cells(row: str) -> list[str]:
        return [_clean(cell) for cell in row.strip().strip("|").split("|")]

    columns = [_without_delimiters(cell) for cell in cells(rows[0])]
    return [
        table_row([_without_delimiters(cell) for cell in cells(row)], columns)
        for row in rows[2:]
        if row.strip()
    ]


def _plain_line(text: str, block: int, depth: int = 0) -> Line:
    """A line of running text; a bullet copied as a character makes it a list item.

    ``depth`` is the list depth of the item the line continues (0 outside lists).
    """
    bullet = _BULLET.match(text)
    if bullet and bullet.end() < len(text):
        return Line(_clean(text[bullet.end() :]), "item", block, depth + 1)
    return Line(text, "text", block, depth)


def _inline_lines(content: str) -> list[tuple[str, str | None]]:
    """The visible text of a paragraph's inline Markdown, one string per line, each at
    most :data:`MAX_LINE_CHARS` long: links give their text, images and tags go. With
    each, the bold text it opens with, if any ("**Calves.** Sit ..." gives "Calves.")."""
    lines: list[tuple[str, str | None]] = []
    for raw in content.split("\n"):
        marked = _INLINE_MARKUP.sub(_unmarked, raw)
        pairs = _delimiter_pairs(marked)
        text = _visible(_without_delimiters(marked, pairs))
        lead = None
        first = len(marked) - len(marked.lstrip())
        opener = next((pair for pair in pairs if pair[0][0] == first), None)
        if opener and marked[first] in "*_" and opener[0][1] - opener[0][0] >= 2:
            prefix = marked[: opener[1][1]]
            lead = _visible(_without_delimiters(prefix, _delimiter_pairs(prefix))) or None
        pieces = _bounded(text)
        lines.extend((piece, lead if index == 0 else None) for index, piece in enumerate(pieces))
    return lines


def _visible(text: str) -> str:
    """What a line of Markdown shows once its markup is gone: escapes and references
    decoded, spaces cleaned."""
    return _clean(decode_references(text.translate(_FROM_ESCAPED), html_rules=False))


def _unmarked(match: re.Match) -> str:
    """What a piece of inline markup shows: an escaped character, a link's text, else a
    space (images, tags) or nothing (emphasis marks, backticks, a line-end backslash)."""
    whole = match.group(0)
    if whole[0] == "\\":
        escaped = match["escaped"] or ""
        return _ESCAPED_DELIMITERS.get(escaped, escaped)
    if match["link"] is not None:
        return match["link"]
    return " "


def _without_delimiters(text: str, pairs: list | None = None) -> str:
    """``text`` without the emphasis marks and backticks that pair up, as Markdown reads
    them ("*this*", "__this__", "`this`"); a lone "*" or "_" stays. One pass, a stack.
    ``pairs`` are :func:`_delimiter_pairs` of ``text``, if already known."""
    if pairs is None:
        pairs = _delimiter_pairs(text)
    if not pairs:
        return text
    kept, position = [], 0
    for start, end in sorted(span for pair in pairs for span in pair):
        kept.append(text[position:start])
        position = end
    kept.append(text[position:])
    return "".join(kept)


def _delimiter_pairs(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The spans of the emphasis marks and backticks of ``text`` that pair up, each
    opener with its closer."""
    if "*" not in text and "_" not in text and "`" not in text:
        return []
    openers: dict[str, list[tuple[int, int]]] = {}
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for run in _DELIMITER_RUN.finditer(text):
        start, end = run.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        mark = run.group(0) if run.group(0)[0] == "`" else run.group(0)[0]
        intraword = mark == "_"  # "snake_case" is no emphasis; "a*b*c" is
        opens = not after.isspace() and not (intraword and before.isalnum())
        closes = not before.isspace() and not (intraword and after.isalnum())
        waiting = openers.setdefault(mark, [])
        if closes and waiting:
            pairs.append((waiting.pop(), (start, end)))
        elif opens:
            waiting.append((start, end))
    return pairs


def _bounded(text: str) -> list[str]:
    """``text`` in pieces of at most :data:`MAX_LINE_CHARS`, cut after a sentence where one
    ends in the second half of a piece, else at a space."""
    if len(text) <= MAX_LINE_CHARS:
        return [text] if text else []
    pieces = []
    start = 0
    while len(text) - start > MAX_LINE_CHARS:
        end = start + MAX_LINE_CHARS
        half = start + MAX_LINE_CHARS // 2
        cut = max(text.rfind(". ", half, end), text.rfind("! ", half, end),
                  text.rfind("? ", half, end)) + 1  # fmt: skip
        if cut <= half:
            cut = text.rfind(" ", half, end)
        if cut <= half:
            cut = end
        pieces.append(text[start:cut].strip())
        start = cut
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def _clean(text: str) -> str:
    """Visible characters only, with runs of white space made one space; a keycap emoji
    number ("1\ufe0f\u20e3") as a number that starts a list ("1.")."""
    if "\u20e3" in text:
        text = _KEYCAP.sub(r"\1.", text)
    words = text.split()
    if all(word.isprintable() for word in words):
        return " ".join(words)
    kept = []
    for word in words:
        if not word.isprintable():
            # control, format, surrogate, private, unassigned; other spaces as spaces
            word = "".join(
                " " if unicodedata.category(char)[0] == "Z" else char
                for char in word
                if unicodedata.category(char)[0] != "C"
            )
        kept.append(word)
    return " ".join(" ".join(kept).split())
