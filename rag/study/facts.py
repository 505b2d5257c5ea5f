"""The facts of a passage that a quiz item can ask for, read from the book's own sentences (pure strings).

A fact is a sentence of the book and the key words in it a student should know: the term a sentence defines
("A **topic** is a named channel ..."), the lead of a list entry ("**Nodes**: independent executables ..."),
a term the book sets in bold, a command or identifier in a code span, or a cell of a table row (the column
whose cells are short and tell the rows apart, like the "Use" of "Need | Use"). An entry keeps the leads of
its list's other entries, and a row its column's other cells: the natural wrong choices.

Sentences a student could not answer from alone are left out: questions, lead-ins ending in ":", navigation
and lesson plans, link lists, and sentences that lean on the one before ("This means ...", "They ...") or
on something shown beside them ("the example above").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from rag.text.candidates import says_something
from rag.text.lexical import content_terms, term, words
from rag.text.sentences import Unit, line_prefix, plain, split_markdown, table_cells, table_rule

FactKind = Literal["definition", "entry", "term", "code", "row"]

MIN_WORDS, MAX_WORDS = 6, 45
MAX_KEY_WORDS = 5
MAX_CODE_WORDS = 4
BLANK = "_____"
ARTICLES = frozenset({"a", "an", "the"})
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*|__([^_\n]+?)__")
_CODE = re.compile(r"`([^`\n]+)`")
_EMPHASIS = re.compile(r"(?<!\w)[*_]{1,2}(?=\S)(.+?)(?<=\S)[*_]{1,2}(?!\w)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# "**Term**: definition", "**Term** - definition": a list item or line that defines its bold lead.
_LEAD_TERM = re.compile(r"^\*\*([^*\n]{1,60}?):?\*\*\s*(?::|-|–|—)\s*(.+)$")
# "A **topic** is ...", "**ROS 2** (Robot Operating System 2) is ...": a sentence that defines its subject.
_DEFINES = re.compile(
    r"^(?:(?:a|an|the)\s+)?\*\*([^*\n]{1,60}?)\*\*\s*(?:\([^)]{1,80}\)\s*)?,?\s*"
    r"(?:is|are|means|refers to|stands for|describes|represents)\s+(.+)$",
    re.IGNORECASE,
)
# A sentence that leans on the one before it cannot be answered alone.
_LEANS_BACK = re.compile(
    r"^(?:it|its|this|that|these|those|they|their|them|he|she|here|there|such|both|each of them|the latter|"
    r"the former|also|however|therefore|thus|so|then|instead|otherwise|similarly|likewise|for example|"
    r"for instance|in (?:this|that|these) (?:case|way)s?)\b",
    re.IGNORECASE,
)
# "[ ] Camera publishes ...", "[x] ...": a task list's box.
_TASK_BOX = re.compile(r"^\s*\[[ xX]\]\s+")
# "a _____" / "an _____": the article would tell the key's first letter.
_ARTICLE = re.compile(rf"\b(an?|An?) {re.escape('_____')}")
MIN_CONTEXT_WORDS = 4  # words a blanked sentence keeps besides the blank
# "Perception is a core component of ...": a sentence that opens by saying what its (unmarked) subject is.
_DEFINES_PLAIN = re.compile(
    r"^(?:(?:a|an|the)\s+)?([A-Za-z][\w/-]*(?:\s+[\w/-]+){0,3}?)\s+(?:is|are|refers to|means)\s+"
    r"((?:a|an|the|one of)\s.+)$"
)
# The words a book uses to lay itself out, not to teach: a lead made only of them is a field name
# ("**Purpose**:", "**Estimated Time**:"), not a term to learn.
_LAYOUT_WORDS = (
    "prerequisites purpose benefits overview summary note tip warning caution important example solution cause "
    "symptom prevention related answer question goal objective outcome duration estimated submission deliverable "
    "requirement criteria format usage syntax description explanation advantages disadvantages pros cons "
    "takeaway recommendation recommended required changes needed why how what when where who "
    "figure table week module lesson chapter section appendix page exercise best practice bottom line common "
    "mistake pitfall troubleshooting key point"
)
_LAYOUT = frozenset(term(w) for w in _LAYOUT_WORDS.split())
# "Each node is a musician ...": says something of every one of them, which defines nothing.
_QUANTIFIED = re.compile(r"^(?:each|every|any|all|some|most|many|no|one)\b", re.IGNORECASE)
# "X is not ...": says what a term is not, which defines nothing.
_NEGATED = re.compile(r"^(?:not|never|no longer)\b", re.IGNORECASE)
# A sentence about something shown next to it ("the example above") needs that to be answered.
_POINTS_AWAY = re.compile(
    r"\b(?:the|this|these) (?:example|code|figure|command|snippet|output|diagram|table|image|listing)s? "
    r"(?:above|below)\b|\b(?:as )?(?:shown|seen) (?:above|below)\b|\bthe following\b",
    re.IGNORECASE,
)
# A parenthesis right after a key spells it out ("ROS 2 (Robot Operating System 2)"): the answer in other words.
_SPELLED_OUT = re.compile(r"^\s*\([^)]{1,80}\)")


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    key: str  # what a student answers, as the book writes it (markup removed)
    sentence: str  # the book's sentence, as plain text
    cloze: str  # the sentence with the key blanked
    subject: str = ""  # a definition's term, for "What is ...?"
    definition: str = ""  # what a definition says of it
    column: str = ""  # a row's blanked column, with the other cells in `cloze`
    choices: tuple[str, ...] = ()  # a row's column's other cells, an entry's list's other leads


def clean(text: str) -> str:
    """A sentence as a student reads it: links to their text, emphasis and a task list's box gone, code spans
    kept, spaces folded."""
    text = _LINK.sub(r"\1", _TASK_BOX.sub("", text))
    for _ in range(2):
        text = _EMPHASIS.sub(r"\1", text)
    return " ".join(text.replace("**", "").split())


def facts_of(text: str) -> list[Fact]:
    """Every fact of one passage, in its order."""
    found: list[Fact] = []
    units = split_markdown(text)
    tables = _tables(units)
    entries: list[int] = []  # the positions in `found` of the current list's entries
    leads: list[str] = []  # the leads of all its entries, those too short to ask about included

    def end_list() -> None:
        for i in entries:
            found[i] = replace(found[i], choices=tuple(k for k in leads if k != found[i].key))
        entries.clear()
        leads.clear()

    for unit in units:
        if unit.kind != "sentence" or not line_prefix(unit.text).strip():
            end_list()
        if unit.kind != "sentence":
            continue
        if unit.text.lstrip().startswith("|"):
            found.extend(tables.get(unit.start, []))
            continue
        raw = _TASK_BOX.sub("", " ".join(plain(unit.text).split()))
        if (lead := _LEAD_TERM.match(raw)) and _is_term(clean(lead.group(1)).strip(" :")):
            leads.append(clean(lead.group(1)).strip(" :"))
        facts = _sentence_facts(raw)
        entries.extend(len(found) + i for i, f in enumerate(facts) if f.kind == "entry")
        found.extend(facts)
    end_list()
    return found


def _answerable(sentence: str) -> bool:
    """A sentence a student could be asked about with nothing else in front of them."""
    count = len(sentence.split())
    return (
        MIN_WORDS <= count <= MAX_WORDS
        and not sentence.rstrip().endswith((":", "?"))
        and "|" not in sentence  # a stray table line, not a sentence
        and says_something(sentence)
        and not _LEANS_BACK.match(sentence)
        and not _POINTS_AWAY.search(sentence)
    )


def _sentence_facts(raw: str) -> list[Fact]:
    """A sentence's definition, or else its bold terms and code spans."""
    sentence = clean(raw)
    if not _answerable(sentence):
        return []
    for kind, pattern in (("entry", _LEAD_TERM), ("definition", _DEFINES), ("definition", _DEFINES_PLAIN)):
        m = pattern.match(raw)
        if m is None:
            continue
        subject, definition = clean(m.group(1)).strip(" :"), clean(m.group(2))
        if (
            _key_ok(subject, sentence)
            and _is_term(subject)
            and not _QUANTIFIED.match(subject)
            and len(definition.split()) >= 4
            and not _NEGATED.match(definition)
        ):
            cloze = _blanked(sentence, subject)
            return [Fact(kind, subject, sentence, cloze, subject, definition)] if cloze else []  # type: ignore[arg-type]
    facts = []
    for m in _BOLD.finditer(raw):
        shown = m.group(1) or m.group(2)
        key = clean(shown)
        usable = not shown.rstrip().endswith(":") and _key_ok(key, sentence) and _is_term(key)
        if usable and (cloze := _blanked(sentence, key)):
            facts.append(Fact("term", key, sentence, cloze))
    for m in _CODE.finditer(raw):
        key = m.group(1).strip()
        if (
            len(key.split()) <= MAX_CODE_WORDS
            and 3 <= len(key) <= 40
            and (cloze := _blanked(sentence, f"`{key}`", key))
        ):
            facts.append(Fact("code", key, sentence, cloze))
    return facts


def _is_term(key: str) -> bool:
    """A key that names something of the subject, not only a field of the book's layout."""
    return any(t not in _LAYOUT for t in content_terms(key) if not t.isdigit())


def _key_ok(key: str, sentence: str) -> bool:
    """A key worth asking for: a few words with a term of meaning (no aside in parentheses), not most of its
    sentence."""
    count = len(key.split())
    return (
        1 <= count <= MAX_KEY_WORDS
        and "(" not in key
        and bool(content_terms(key))
        and count * 3 <= len(sentence.split())
    )


def _blanked(sentence: str, shown: str, key: str | None = None) -> str:
    """The sentence with every occurrence of the key blanked (and a spelled-out form after it dropped); "" when
    the rest of the sentence would still give the key away."""
    key = key or shown
    pattern = re.compile(rf"(?<!\w){re.escape(shown)}(?!\w)", re.IGNORECASE)
    if not pattern.search(sentence):
        return ""
    parts = pattern.split(sentence)
    cloze = parts[0] + "".join(BLANK + _SPELLED_OUT.sub("", part) for part in parts[1:])
    cloze = _ARTICLE.sub(lambda m: f"{m.group(1)[0]}{'(n)' if m.group(1)[0] in 'aA' else ''} {BLANK}", cloze)
    if len(cloze.replace(BLANK, " ").split()) < MIN_CONTEXT_WORDS or gives_away(cloze, key):
        return ""
    return cloze


def normalized(text: str) -> str:
    """A key as grading compares it: lower case, stemmed, without articles or punctuation ("The Topics" is
    "topic")."""
    return " ".join(term(w) for w in words(text) if w not in ARTICLES)


def gives_away(question: str, key: str) -> bool:
    """Whether a question holds its answer: the key's words, in any case or inflection, in a row."""
    asked, wanted = _stems(question), _stems(key)
    if not wanted:
        return True
    return any(asked[i : i + len(wanted)] == wanted for i in range(len(asked) - len(wanted) + 1))


def _words_of(text: str) -> str:
    return " ".join(t for t in content_terms(text) if not t.isdigit())


def _stems(text: str) -> list[str]:
    return [term(w) for w in words(text)]


# -- tables ---------------------------------------------------------------------------------------------------


def _tables(units: list[Unit]) -> dict[int, list[Fact]]:
    """Each table row's fact, by the row's offset: the row with its key column blanked."""
    facts: dict[int, list[Fact]] = {}
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []

    def close() -> None:
        nonlocal header, rows
        if header:
            facts.update(_row_facts(header, rows))
        header, rows = [], []

    for i, unit in enumerate(units):
        if table_rule(unit):
            continue
        if unit.kind != "sentence" or not unit.text.lstrip().startswith("|"):
            close()
        elif i + 1 < len(units) and table_rule(units[i + 1]):
            close()
            header = _cells(unit.text)
        elif header:
            rows.append((unit.start, _cells(unit.text)))
    close()
    return facts


def _cells(row: str) -> list[str]:
    return [clean(cell) for cell in table_cells(row)]


def _row_facts(header: list[str], rows: list[tuple[int, list[str]]]) -> dict[int, list[Fact]]:
    """Rows of one table: the key column is the one whose cells are short and all different (the shortest)."""
    full = [(start, cells) for start, cells in rows if len(cells) == len(header) and all(cells)]
    if len(full) < 2 or len(header) < 2:
        return {}
    columns = [[cells[c] for _, cells in full] for c in range(len(header))]
    usable = [
        c
        for c, values in enumerate(columns)
        if len({_words_of(v) for v in values}) == len(values)  # told apart by words, not by a number
        and max(len(v.split()) for v in values) <= 6
        and all(content_terms(v) for v in values)
    ]
    if not usable:
        return {}
    key_column = min(usable, key=lambda c: (sum(len(v.split()) for v in columns[c]), -c))
    facts = {}
    for start, cells in full:
        shown = [
            f"{h}: {BLANK if c == key_column else cell}" for c, (h, cell) in enumerate(zip(header, cells, strict=True))
        ]
        sentence = "; ".join(f"{h}: {cell}" for h, cell in zip(header, cells, strict=True)) + "."
        key = cells[key_column]
        others = tuple(v for v in columns[key_column] if v != key)
        cloze = "; ".join(shown) + "."
        facts[start] = [Fact("row", key, sentence, cloze, column=header[key_column], choices=others)]
    return facts
