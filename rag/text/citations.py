"""Inline citations, verified in code while the answer streams.

The model cites passages as `[n]`, `[n, m]` or `[n-m]`. As text streams,
every marker is rewritten: numbers without a passage are dropped, the others
renumbered 1..k in order of first use and written as separate `[k]` markers
(each one a clickable element in the UI). So the streamed text is already the
final, verified text: an answer never shows a source it did not retrieve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Not right after a word character: `arr[0]` is code, not a citation.
MARKER = re.compile(r"(?<!\w)\[\s*(\d+(?:\s*(?:[-–,]|and)\s*\d+)*)\s*\]")
# The longest opening we wait for before deciding a '[' does not start a marker.
_MAX_PENDING = 40
MAX_RANGE = 20


def parse_numbers(inner: str) -> list[int]:
    """'1, 3-5' -> [1, 3, 4, 5]; absurd ranges are ignored, not expanded."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|and)\s*", inner):
        if m := re.fullmatch(r"(\d+)\s*[-–]\s*(\d+)", part):
            lo, hi = int(m.group(1)), int(m.group(2))
            if 0 <= hi - lo <= MAX_RANGE:
                numbers.extend(range(lo, hi + 1))
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


@dataclass
class CitationRewriter:
    """Feed it the model's deltas; it returns text to show with markers verified and renumbered."""

    passage_count: int

    def __post_init__(self) -> None:
        self.order: list[int] = []  # original passage numbers, in order of first citation
        self.text = ""  # everything returned so far
        self._pending = ""

    def _rewrite(self, match: re.Match) -> str:
        markers = []
        for n in parse_numbers(match.group(1)):
            if not 1 <= n <= self.passage_count:
                continue
            if n not in self.order:
                self.order.append(n)
            marker = f"[{self.order.index(n) + 1}]"
            if marker not in markers:
                markers.append(marker)
        return "".join(markers)

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        # Hold back a '[' that may still become a marker once more text arrives.
        if cut != -1 and "]" not in text[cut:] and len(text) - cut <= _MAX_PENDING:
            text, self._pending = text[:cut], text[cut:]
        else:
            self._pending = ""
        return self._emit(text)

    def finish(self) -> str:
        text, self._pending = self._pending, ""
        return self._emit(text)

    def _emit(self, text: str) -> str:
        # Prefix the last character already sent so the look-behind sees across deltas.
        last = self.text[-1:].replace("[", "")
        out = _tidy(MARKER.sub(self._rewrite, last + text)[len(last) :])
        self.text += out
        return out


def _tidy(text: str) -> str:
    """A dropped marker must not leave a space before punctuation."""
    return re.sub(r" +([.,;:!?])", r"\1", text)


def verify(text: str, passage_count: int) -> tuple[str, list[int]]:
    """Whole-text form: (verified text, original passage numbers in citation order)."""
    rewriter = CitationRewriter(passage_count)
    rewriter.feed(text)
    rewriter.finish()
    return rewriter.text, rewriter.order


def renumber(text: str, order: list[int]) -> str:
    """Markers rewritten to their position in `order` (original passage numbers); others dropped."""

    def rewrite(match: re.Match) -> str:
        return "".join(dict.fromkeys(f"[{order.index(n) + 1}]" for n in parse_numbers(match.group(1)) if n in order))

    return _tidy(MARKER.sub(rewrite, text))
