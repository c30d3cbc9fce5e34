"""A home page reduced to what tells it apart from another page: its title, its visible text and
its structure, and how similar two such fingerprints are, aspect by aspect.

- ``title``: the ``<title>``, lower case, white space collapsed, every digit a ``0`` (a date or
  a cart count in it is no change). Compared with :class:`difflib.SequenceMatcher`'s ratio.
- ``text``: the visible words outside ``<script>``, ``<style>``, ``<nav>``, ``<header>``,
  ``<footer>``, ``<aside>``, ``<form>`` and such (menus, widgets, cookie banners, forms with their
  nonces), cut into shingles of :data:`SHINGLE_WORDS` consecutive words, each word with its digits
  made ``0``. Compared as the Jaccard index of the two sets of shingles: a blog's front page that
  gains a post and loses its oldest keeps most of its shingles (about 0.7 for one post in eight,
  with another date), while a page replaced by other text shares almost none.
- ``structure``: the set of tag paths (``html>body>div>main>article>h2``) of the elements outside
  ``<head>`` (none inside ``<svg>``, ``<script>`` and such), again compared by their Jaccard
  index: the same theme with another post adds no path, a new layout or a bare page shares few.

The sets of text shingles and of tag paths are kept as bottom-k sketches (the :data:`SKETCH`
smallest 48-bit hashes of the set), which bounds a fingerprint's size whatever the page's; the
Jaccard index of two sketches estimates that of the sets, exactly when both sets are smaller than
the sketch, otherwise within a few hundredths. The standard library does the job: difflib for
the short title, a dozen lines for the sketch; a MinHash or fuzzy-matching library would add a
dependency for sets of a few thousand items. Parsed with the standard library's HTML parser, as
:mod:`exporters.probes.page` does.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser

ASPECTS = ("title", "text", "structure")
SHINGLE_WORDS = 3
SKETCH = 256
# elements whose text is not the page's own content: code, menus, widgets, forms
_HIDDEN_TEXT = frozenset({"script", "style", "noscript", "template", "svg", "head", "nav",
                          "header", "footer", "aside", "form", "select", "iframe", "button"})
# elements whose inside is no part of the layout; and elements that are none of it (a page may
# leave out <html>, <head> and <body>)
_NO_STRUCTURE = frozenset({"head", "script", "style", "noscript", "template", "svg"})
_NOT_LAYOUT = frozenset({"html", "head", "body", "title", "meta", "link", "base"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
# elements whose end tag HTML lets a page leave out before the next one of theirs
_SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th"})
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Fingerprint:
    """A page's normalized title and the sketches of its text shingles and tag paths."""

    title: str
    text: tuple[int, ...]
    structure: tuple[int, ...]


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.title: list[str] = []
        self.words: list[str] = []
        self.paths: set[str] = set()
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if self.open and self.open[-1] == tag and tag in _SELF_CLOSING_SIBLINGS:
            self.open.pop()
        self._record(tag)
        if tag not in _VOID:
            self.open.append(tag)
        self._in_title = tag == "title" and "svg" not in self.open

    def handle_startendtag(self, tag, attrs):
        self._record(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title.append(data)
        elif not _HIDDEN_TEXT.intersection(self.open):
            self.words.extend(_WORD.findall(data.lower()))

    def _record(self, tag: str):
        if tag not in _NOT_LAYOUT and not _NO_STRUCTURE.intersection(self.open):
            self.paths.add(">".join((*self.open, tag)))


def _hash(item: str) -> int:
    return int.from_bytes(hashlib.blake2b(item.encode("utf-8"), digest_size=6).digest(), "big")


def sketch(items) -> tuple[int, ...]:
    """The :data:`SKETCH` smallest hashes of ``items``, sorted."""
    return tuple(sorted({_hash(item) for item in items})[:SKETCH])


def shingles(words: list[str]) -> list[str]:
    words = [_DIGIT.sub("0", word) for word in words]
    if len(words) < SHINGLE_WORDS:
        return words
    return [" ".join(words[start:start + SHINGLE_WORDS])
            for start in range(len(words) - SHINGLE_WORDS + 1)]


def fingerprint(html: str) -> Fingerprint:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    title = _DIGIT.sub("0", _SPACE.sub(" ", "".join(reader.title)).strip().lower())
    return Fingerprint(title, sketch(shingles(reader.words)), sketch(reader.paths))


def jaccard(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """The Jaccard index of the sets two bottom-k sketches stand for (1 for two empty sets)."""
    if not first and not second:
        return 1.0
    union = sorted(set(first) | set(second))[:SKETCH]
    common = set(first) & set(second)
    return sum(1 for item in union if item in common) / len(union)


def title_similarity(first: str, second: str) -> float:
    return difflib.SequenceMatcher(None, first, second, autojunk=False).ratio() \
        if first or second else 1.0


def similarity(baseline: Fingerprint, current: Fingerprint) -> dict[str, float]:
    """Per aspect of :data:`ASPECTS`, from 0 (nothing in common) to 1 (the same)."""
    return {"title": title_similarity(baseline.title, current.title),
            "text": jaccard(baseline.text, current.text),
            "structure": jaccard(baseline.structure, current.structure)}
