"""Markdown text cut into the units the grounding checker judges and the excerpt composer picks.

An answer is read line by line: a fenced code block is one unit, a heading or a
table rule is layout, a list item or table row starts its own unit, and prose is
cut into sentences. Citation markers stay with the sentence they close, whether
written before the full stop ("... [1].") or after it ("... . [1]").
Units keep their character offsets, so the checker can rewrite the answer in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import nupunkt

UnitKind = Literal["sentence", "code", "heading", "rule"]

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_THEMATIC_BREAK = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
# A list bullet or number, a block quote, or admonition fences (`:::tip`) at the start of a line.
LINE_PREFIX = re.compile(r"^\s*(?:>\s*)*(?:[-*+•]\s+|\d{1,3}[.)]\s+)?")
# Citation markers that open a segment belong to the sentence before them ("... moves. [1] Then ...").
_LEADING_MARKERS = re.compile(r"(?:\s*\[\d+(?:\s*[-–,]\s*\d+)*\])+")


@dataclass(frozen=True)
class Unit:
    """A piece of text at `text[start:end]` of the string it was cut from."""

    start: int
    end: int
    text: str
    kind: UnitKind


def split_prose(line: str, offset: int = 0) -> list[Unit]:
    """Sentences of one line of prose, with offsets shifted by `offset`. Sentence boundaries are nupunkt's
    (abbreviations, units like "m/s.", decimals and versions are its job); a citation marker written after
    the full stop is moved back to the sentence it closes."""
    spans: list[list[int]] = []
    for start, end in nupunkt.sent_spans(line):
        markers = _LEADING_MARKERS.match(line, start)
        if markers and spans:
            spans[-1][1] = markers.end()
            start = markers.end()
        if line[start:end].strip():
            spans.append([start, end])
    return [_unit(line, start, end, offset) for start, end in spans]


def _unit(line: str, start: int, end: int, offset: int, kind: UnitKind = "sentence") -> Unit:
    text = line[start:end]
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    return Unit(offset + start + lead, offset + start + lead + len(text), text, kind)


def split_markdown(text: str) -> list[Unit]:
    """Every unit of a markdown text, in order; offsets index into `text`. Hard-wrapped lines of a paragraph
    or list item are read as one text, so a sentence may span lines."""
    units: list[Unit] = []
    fence: str | None = None
    fence_start = 0
    paragraph: tuple[int, int] | None = None  # (start, end) of the prose gathered so far
    position = 0

    def flush() -> None:
        nonlocal paragraph
        if paragraph is not None:
            units.extend(split_prose(text[paragraph[0] : paragraph[1]], paragraph[0]))
            paragraph = None

    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = position + len(body)
        if fence is not None:
            if body.strip().startswith(fence) and not body.strip().strip(fence[0]):
                units.append(_unit(text, fence_start, end, 0, "code"))
                fence = None
        elif m := _FENCE.match(body):
            flush()
            fence, fence_start = m.group(1), position
        elif not body.strip():
            flush()
        elif _HEADING.match(body) or _TABLE_RULE.match(body) or _THEMATIC_BREAK.match(body):
            flush()
            units.append(_unit(text, position, end, 0, "heading" if _HEADING.match(body) else "rule"))
        elif body.lstrip().startswith(":::"):
            flush()
            units.append(_unit(text, position, end, 0, "rule"))
        elif body.lstrip().startswith("|"):  # a table row is one unit, whatever its cells hold
            flush()
            units.append(_unit(text, position, end, 0))
        elif paragraph is None or _starts_item(body):
            flush()
            paragraph = (position, end)
        else:
            paragraph = (paragraph[0], end)
        position += len(line)
    flush()
    if fence is not None:  # an unclosed block runs to the end
        units.append(_unit(text, fence_start, len(text), 0, "code"))
    return units


def table_rule(unit: Unit) -> bool:
    """A table's delimiter row ("|---|:---:|"), which makes the row above it the header."""
    return unit.kind == "rule" and bool(_TABLE_RULE.match(unit.text))


def table_cells(row: str) -> list[str]:
    """A table row's cells ("| a | b |" -> ["a", "b"])."""
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def line_prefix(line: str) -> str:
    """The bullet, number or quote mark a line starts with ("" for none)."""
    m = LINE_PREFIX.match(line)
    return m.group(0) if m else ""


def _starts_item(line: str) -> bool:
    """A list item, quote or definition (": ...") starts its own unit rather than continuing a paragraph."""
    return bool(line_prefix(line).strip()) or line.lstrip().startswith(": ")


def plain(text: str) -> str:
    """A unit without its line prefix (bullet, number, quote), and a table row without its pipes."""
    text = LINE_PREFIX.sub("", text).strip()
    return text.replace("|", " ").strip() if text.startswith("|") else text
