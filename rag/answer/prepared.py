"""A passage in the forms the grounding checks compare against: its parts, its tables, and the numbers one
can derive from it.

A table is read as a table, not as flattened lines: each row knows its header, so "the price of the
lidar" finds the lidar's row, and numbers that stand in one column (a range of step lengths) are
together even though no single row holds them all. Simple arithmetic over the numbers of one row, one
column or one sentence (a count times a unit price, a column's total) is kept as *derived* values with how
they were derived, so a sentence that states a total is not taken for one that invents a number.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from rag.text.lexical import content_terms, words
from rag.text.numbers import normal, numbers, values
from rag.text.sentences import plain, split_markdown, table_cells, table_rule

NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|can't|won't|don't|doesn't|isn't|aren't|without|neither|nor)\b"
    r"|n't\b",
    re.IGNORECASE,
)
# A negation after one of these is a condition ("if you don't ..., it ..."), not a fact to contradict.
CONDITION = re.compile(r"\b(?:if|unless|otherwise|or|else|when|whether)\b", re.IGNORECASE)
# Where one clause of a sentence ends and the next begins: "... drifts, but the map frame does not".
CLAUSE_BREAK = re.compile(
    r"[,;:()]|\s[-–—]\s|\b(?:but|while|whereas|however|although|though|so|because|since)\b", re.IGNORECASE
)
# Sums over up to this many rows of a column (and always the whole column).
MAX_SUMMED_ROWS = 4


def squash(text: str) -> str:
    return " ".join(text.lower().replace("**", "").split())


@dataclass
class Part:
    """One sentence, list item or table row of a passage, prepared for matching."""

    text: str
    terms: set[str]
    numbers: set[str]
    negated: bool
    table: int | None = None  # the index of its table in the passage, for a table row
    clauses: list[Clause] = field(default_factory=list)


@dataclass(frozen=True)
class Clause:
    """A clause of a part: its content terms in order, whether it holds a negation, and whether that
    negation is part of a condition ("if it won't launch, ..."), which states no fact to contradict."""

    terms: tuple[str, ...]
    negated: bool
    conditional: bool = False


def clauses(text: str) -> list[Clause]:
    """The clauses of a sentence that hold at least two content terms."""
    found = []
    for piece in CLAUSE_BREAK.split(text):
        terms = tuple(content_terms(piece))
        negation = NEGATION.search(piece)
        if len(terms) >= 2:
            found.append(Clause(terms, bool(negation), bool(negation and CONDITION.search(piece[: negation.start()]))))
    return found


@dataclass(frozen=True)
class Derived:
    """A number the passage does not state but implies by simple arithmetic."""

    how: str  # "4 × 50"
    terms: frozenset[str]  # what the numbers it came from stand with


@dataclass
class Table:
    """A markdown table of a passage: its header, its rows as parts, their cells (read whole before use: the
    columns and keys are computed once)."""

    header: list[str]
    rows: list[Part] = field(default_factory=list)
    cells: list[list[str]] = field(default_factory=list)

    @cached_property
    def columns(self) -> list[set[str]]:
        """The number tokens of each column."""
        width = max((len(row) for row in self.cells), default=0)
        return [set().union(*(numbers(row[i]) for row in self.cells if i < len(row))) for i in range(width)]

    @cached_property
    def keys(self) -> list[set[str]]:
        """Per row, the terms that name it: those of its cells in columns whose words differ on every row and
        are not numbers (a name or model column, not a price column), less the terms all rows share."""
        width = max((len(row) for row in self.cells), default=0)
        columns = [[row[i] if i < len(row) else "" for row in self.cells] for i in range(width)]
        naming = [
            i for i, column in enumerate(columns) if len(set(column)) == len(column) and not any(map(_numeric, column))
        ]
        keys = [
            {t for i in naming if i < len(row) for t in content_terms(row[i]) if not t[0].isdigit()}
            for row in self.cells
        ]
        shared = set[str].intersection(*keys) if keys else set()
        return [key - shared for key in keys]


@dataclass
class PreparedPassage:
    """A passage's text in the forms the checks compare against (never changed once made: the checker
    reuses it for later answers)."""

    n: int
    text: str
    squashed: str
    terms: set[str]
    words: set[str]
    parts: list[Part] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    derived: dict[str, Derived] = field(default_factory=dict)

    @classmethod
    def of(cls, n: int, text: str) -> PreparedPassage:
        parts: list[Part] = []
        tables: list[Table] = []
        current: Table | None = None  # the table being read
        header: list[str] | None = None  # the cells of a row that a table rule would make a header
        for unit in split_markdown(text):
            row = unit.kind == "sentence" and unit.text.lstrip().startswith("|")
            if row and current is not None:
                parts.append(_row(table_cells(unit.text), current, len(tables) - 1))
            elif row:
                header = table_cells(unit.text)
                parts.append(_part(plain(unit.text)))
            elif header is not None and table_rule(unit):
                current, header = Table(header), None
                tables.append(current)
            else:
                current = header = None
                if unit.kind not in ("heading", "rule"):
                    parts.append(_part(unit.text, code=True) if unit.kind == "code" else _part(plain(unit.text)))
        passage = cls(n, text, squash(text), set(content_terms(text)), set(words(text)), parts, tables)
        passage.derived = _derivations(passage)
        return passage


def _numeric(cell: str) -> bool:
    """A cell that states a number ("$349", "0.5 m", "Sep, 2023"), not one that names a thing with one."""
    return bool(numbers(cell)) and len([t for t in content_terms(cell) if not t[0].isdigit()]) <= 1


def _part(body: str, table: int | None = None, code: bool = False) -> Part:
    """A part; a code block's clauses are not prose to compare wording with."""
    return Part(
        body, set(content_terms(body)), numbers(body), bool(NEGATION.search(body)), table, [] if code else clauses(body)
    )


def _row(cells: list[str], table: Table, index: int) -> Part:
    """A row as a part whose text names each cell's column ("Price: $349"), so its terms hold the header's."""
    text = "; ".join(
        f"{head}: {cell}" if head else cell for head, cell in itertools.zip_longest(table.header, cells, fillvalue="")
    )
    part = _part(text, index)
    part.numbers = set().union(*(numbers(cell) for cell in cells)) if cells else set()
    table.rows.append(part)
    table.cells.append(cells)
    return part


def _derivations(passage: PreparedPassage) -> dict[str, Derived]:
    """Products and sums of two numbers of one part, sums over rows of one column, and per-row products
    summed over a table: the arithmetic a correct answer does with a passage."""
    found: dict[str, Derived] = {}

    def add(value: float, how: str, terms: set[str]) -> None:
        token = normal(f"{value:.6f}")
        found.setdefault(token, Derived(how, frozenset(terms)))

    for part in passage.parts:
        for a, b in itertools.combinations(values(part.text) if part.table is None else _row_values(part, passage), 2):
            if a != b and not {0, 1} & {a, b}:  # "10 x 10" in one sentence is a repeat, not a count times a value
                add(a * b, f"{_show(a)} × {_show(b)}", part.terms)
                add(a + b, f"{_show(a)} + {_show(b)}", part.terms)
    for table in passage.tables:
        column_values = _column_values(table)
        for column in column_values:
            rows = [i for i, v in enumerate(column) if v]  # a zero adds nothing
            for size in range(2, min(MAX_SUMMED_ROWS, len(rows)) + 1):
                for chosen in itertools.combinations(rows, size):
                    add(
                        sum(column[i] for i in chosen),
                        " + ".join(_show(column[i]) for i in chosen),
                        _terms(table, chosen),
                    )
            if len(rows) > MAX_SUMMED_ROWS:
                add(sum(column[i] for i in rows), "the column's total", _terms(table, rows))
        for left, right in itertools.combinations(column_values, 2):
            rows = [i for i in range(len(table.rows)) if left[i] and right[i]]
            if len(rows) > 1:
                total = sum(left[i] * right[i] for i in rows)
                add(total, " + ".join(f"{_show(left[i])} × {_show(right[i])}" for i in rows), _terms(table, rows))
    return found


def _row_values(part: Part, passage: PreparedPassage) -> list[float]:
    table = passage.tables[part.table or 0]
    cells = table.cells[table.rows.index(part)]
    return [v[0] for cell in cells if (v := values(cell))]


def _column_values(table: Table) -> list[list[float]]:
    """Per column, each row's number (0 where the cell has none: it adds nothing); columns without two
    numbers are left out."""
    width = max((len(row) for row in table.cells), default=0)
    columns = []
    for i in range(width):
        column = [(values(row[i]) or [0.0])[0] if i < len(row) else 0.0 for row in table.cells]
        if sum(bool(v) for v in column) > 1:
            columns.append(column)
    return columns


def _terms(table: Table, rows: Sequence[int]) -> set[str]:
    return set(content_terms(" ".join(table.header))) | set().union(*(table.rows[i].terms for i in rows))


def _show(value: float) -> str:
    return normal(f"{value:.6f}")
