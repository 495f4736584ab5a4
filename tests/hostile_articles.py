"""Hostile articles of any size, for the importer's time tests and ``scripts/bench import``:
one kind of each way a page can make a parser slow (long runs without spaces or
punctuation, deep nesting, huge numbers of items, headings or paragraphs, long lines,
many references, broken markup). Each maker takes a size in characters."""

from __future__ import annotations

from collections.abc import Callable

_PAGE = "<!doctype html><html><body><h1>Stretches</h1><p>Intro.</p>"


def _repeat(unit: str, size: int, head: str = "", tail: str = "") -> str:
    """``head``, then ``unit`` as often as fits ``size`` characters, then ``tail``."""
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


#: kind -> maker(size in characters) -> article text
HOSTILE: dict[str, Callable[[int], str]] = {
    # long runs without spaces or punctuation, and one word repeated
    "one letter": lambda size: _repeat("a", size),
    "one word": lambda size: _repeat("stretch ", size),
    "digits": lambda size: _repeat("9", size),
    "dose words": lambda size: _repeat("hold 30-", size),
    "punctuation": lambda size: _repeat("([*_`:#", size),
    # deep nesting
    "nested <ul><li>": lambda size: _repeat("<ul><li>", size, _PAGE),
    "nested <ol><li> text": lambda size: _repeat("<ol><li>Knee hug ", size, _PAGE),
    "nested <blockquote>": lambda size: _repeat("<blockquote>", size, _PAGE),
    "nested <div>": lambda size: _repeat("<div>", size, _PAGE),
    "nested Markdown lists": lambda size: _repeat("- ", size) + "x",
    "nested Markdown quotes": lambda size: _repeat("> ", size) + "x",
    # huge numbers of items, headings, paragraphs
    "many <li>": lambda size: _repeat("<li>Knee hug: hold 30 seconds</li>", size, _PAGE + "<ul>"),
    "many headings": lambda size: _repeat(
        "<h2>Side Bend</h2><p>Lean over and hold 30 seconds each side.</p>", size, _PAGE
    ),
    "many Markdown items": lambda size: _repeat("- Side bend: hold it 30 seconds.\n", size),
    "many paragraphs": lambda size: _repeat(
        "Side bend stretch. Lean over and hold 30 seconds each side.\n\n", size
    ),
    # many tags within one line (each must not read the line again)
    "many <b> in a line": lambda size: _repeat("<b>Knee</b> hug ", size, _PAGE + "<p>x"),
    "many blank <b>": lambda size: _repeat("<b> </b>", size, _PAGE + "<p>"),
    "many <td> in a row": lambda size: _repeat("<td>30 s</td>", size, _PAGE + "<table><tr>"),
    "many Markdown bold leads": lambda size: _repeat("**Knee hug.** Hold it **30 s**\n", size),
    # long lines, references, broken markup
    "one long line": lambda size: _repeat("Hold for 30 seconds, ", size),
    "references": lambda size: _repeat("&amp;&#233;&#x1F600;&#99999999999;", size, _PAGE),
    "unclosed tags": lambda size: _repeat("<a b='", size, _PAGE),
    "unclosed comments": lambda size: _repeat("<!--", size, _PAGE),
    "unclosed scripts": lambda size: _repeat("<script>", size, _PAGE),
    "Markdown links": lambda size: _repeat("[a](", size),
}
