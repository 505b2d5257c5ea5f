"""Quiz items built from the book's own sentences, with zero keys (`rag.study.facts` finds what to ask).

- *free response* first: "What is meant by “topic”?", answered in the student's words and compared with the
  sentence that defines it;
- *multiple choice*: a sentence with its key term blanked and four choices, the three distractors taken from
  the same chapter's key terms (or the other rows of a table's column): close enough in meaning to tempt, never
  the answer in other words (too close in meaning, or sharing a word with it), never also true by the book
  (the sentence with a distractor in the blank must not pass the grounding checker);
- *fill-in*: the blanked sentence, typed.

Every item's answer key is a sentence of its cited passage, and must pass the grounding checker against that
passage, or the item is dropped.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.answer.grounding import GroundingChecker, public_verdict
from rag.search.passage import Passage
from rag.study.facts import BLANK, Fact, clean, facts_of, normalized
from rag.text.sentences import plain, split_markdown

ItemKind = Literal["free", "choice", "fill"]
CHOICES = 4
# A distractor closer than this in meaning to the key is the answer in other words.
MAX_DISTRACTOR_SIMILARITY = 0.85
# A definition subject this many facts of a chapter share is a label ("Cause:", "Solution:"), not a term.
LABEL_REPEATS = 3
_RANK = {"definition": 0, "entry": 1, "row": 2, "term": 3, "code": 4}


@dataclass(frozen=True)
class Item:
    kind: ItemKind
    question: str
    answer: str  # the key: a term, a table cell, or (free response) the sentence that defines the term
    sentence: str  # the book's sentence that makes the answer right: what "Why?" shows
    passage: Passage  # where that sentence is: the item's citation [1]
    choices: tuple[str, ...] = ()
    key: str = ""  # the term it asks about (for free response, the term defined): not asked again
    id: str = ""  # given when the item is stored

    @property
    def section(self) -> str:
        """The page the item asks about (its path in the docs)."""
        return self.passage.source_path


@dataclass(frozen=True)
class Found:
    """A fact and the passage it is in."""

    fact: Fact
    passage: Passage


@dataclass(frozen=True)
class Chapter:
    """What a chapter offers the items of its pages: its facts (distractors come from them), how often the book
    uses each key there (a term it keeps using is worth asking; a list's one-off label is not), and the leads
    it repeats as field names ("Cause:", "Answer 1:" ... "Answer 5:")."""

    facts: tuple[Fact, ...]
    uses: Counter[str]
    labels: frozenset[str]
    ambiguous: frozenset[str]  # blanked sentences the chapter has twice, with different keys

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> Chapter:
        facts = tuple(fact for p in passages for fact in facts_of(p.text))
        text = f" {normalized(' '.join(p.text for p in passages))} "
        uses = Counter({key: text.count(f" {key} ") for key in {normalized(f.key) for f in facts}})
        counts = Counter(_label(f.key) for f in facts if f.kind in ("definition", "entry", "term"))
        labels = frozenset(label for label, n in counts.items() if n >= LABEL_REPEATS)
        keys_of: dict[str, set[str]] = {}
        for f in facts:
            keys_of.setdefault(normalized(f.cloze), set()).add(normalized(f.key))
        return cls(facts, uses, labels, frozenset(c for c, keys in keys_of.items() if len(keys) > 1))

    def used(self, key: str) -> int:
        return self.uses.get(normalized(key), 0)

    def terms(self, kinds: set[str]) -> list[str]:
        """The chapter's keys of these kinds that it uses more than once and that are not labels."""
        return [
            f.key for f in self.facts if f.kind in kinds and self.used(f.key) >= 2 and _label(f.key) not in self.labels
        ]


class ItemBuilder:
    """Builds items; `embed` maps texts to unit vectors (for the distractors' closeness in meaning), `checker`
    gates every answer key and distractor."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], checker: GroundingChecker):
        self.embed, self.checker = embed, checker

    def build(self, passages: Sequence[Passage], chapter: Chapter, n: int, asked: Sequence[str] = ()) -> list[Item]:
        """Up to `n` items from `passages`, a free-response one first, then multiple choice and fill-in in
        turn; `chapter` is the passages' chapter (distractors), `asked` keys not to ask again."""
        found = self.ranked(passages, chapter, asked)
        items: list[Item] = []
        free = next((f for f in found if _definable(f, chapter)), None)
        if free and self._grounded(item := self._free(free)):
            items.append(item)
        for f in _spread(found):
            if len(items) >= n:
                break
            if f is free:
                continue
            choices = sum(i.kind == "choice" for i in items)
            prefer_choice = choices < sum(i.kind == "fill" for i in items)  # in turn, as far as distractors allow
            made = (self._choice(f, chapter) or self._fill(f)) if prefer_choice else self._fill(f)
            if made is not None and self._grounded(made):
                items.append(made)
        return items

    def ranked(self, passages: Sequence[Passage], chapter: Chapter, asked: Sequence[str] = ()) -> list[Found]:
        """The passages' facts, best first (definitions, then list entries, table rows, bold terms and code;
        within each, the keys the chapter keeps using), one per sentence and key, without labels or what was
        asked."""
        seen = {normalized(a) for a in asked}
        sentences: set[str] = set()
        found = []
        facts = [Found(fact, p) for p in passages for fact in facts_of(p.text)]
        for f in sorted(facts, key=lambda f: (_RANK[f.fact.kind], chapter.used(f.fact.key) < 2)):
            key = normalized(f.fact.key)
            if (
                _label(f.fact.key) in chapter.labels
                or normalized(f.fact.cloze) in chapter.ambiguous  # "Place in _____ directory": which one?
                or key in seen
                or f.fact.sentence in sentences
            ):
                continue
            seen.add(key)
            sentences.add(f.fact.sentence)
            found.append(f)
        return found

    def _free(self, found: Found) -> Item:
        fact = found.fact
        question = f"What is meant by “{fact.subject}”? Answer in your own words."
        return Item("free", question, fact.sentence, fact.sentence, found.passage, key=fact.key)

    def _fill(self, found: Found) -> Item:
        fact = found.fact
        return Item("fill", f"Fill in the blank: {_asked(found)}", fact.key, fact.sentence, found.passage, key=fact.key)

    def _choice(self, found: Found, chapter: Chapter) -> Item | None:
        fact = found.fact
        distractors = self._distractors(found, chapter)
        if len(distractors) < CHOICES - 1:
            return None
        choices = [fact.key, *distractors[: CHOICES - 1]]
        random.Random(hashlib.sha256(fact.sentence.encode()).digest()).shuffle(choices)
        question = f"Which one completes it? {_asked(found)}"
        return Item("choice", question, fact.key, fact.sentence, found.passage, tuple(choices), key=fact.key)

    def _distractors(self, found: Found, chapter: Chapter) -> list[str]:
        """A row's column's other cells, an entry's list's other leads, or else other key terms the chapter
        uses: most tempting first."""
        fact = found.fact
        kinds = {"code"} if fact.kind == "code" else {"definition", "term"}  # an entry's lead may be a label
        siblings = len(fact.choices) >= CHOICES - 1
        offered = list(fact.choices) if siblings else chapter.terms(kinds)
        key_stems = set(normalized(fact.key).split())
        candidates: dict[str, str] = {}
        for other in offered:
            form = normalized(other)
            if form and form not in candidates and not key_stems & set(form.split()):
                candidates[form] = other
        if len(candidates) < CHOICES - 1:
            return []
        texts = list(candidates.values())
        vectors = self.embed([fact.key, *texts])
        closeness = vectors[1:] @ vectors[0]
        order = [i for i in np.argsort(-closeness) if closeness[i] < MAX_DISTRACTOR_SIMILARITY]
        kept: list[str] = []
        for i in order:
            if len(kept) == CHOICES - 1:
                break
            # A sibling (another row's cell, another entry's lead) is that one's by construction; any other term
            # must not make the sentence true by the rest of the passage too.
            filled = fact.cloze.replace(BLANK, texts[i])
            if siblings or not self._true_by_the_book(filled, found.passage, without=fact.sentence):
                kept.append(texts[i])
        return kept

    def _grounded(self, item: Item) -> bool:
        """The answer key's sentence passes the grounding checker against its passage."""
        return self._true_by_the_book(item.sentence, item.passage)

    def _true_by_the_book(self, sentence: str, passage: Passage, without: str = "") -> bool:
        """Whether the grounding checker finds `sentence` supported by the passage (`without` one of its
        sentences: the one a distractor was put into)."""
        text = _without(passage.text, without) if without else passage.text
        checked = self.checker.check(sentence, [text]).sentences
        return bool(checked) and all(public_verdict(s) == "supported" for s in checked)


def _without(text: str, sentence: str) -> str:
    """A passage with one of its sentences (as `clean` reads it) left out."""
    return "\n\n".join(u.text for u in split_markdown(text) if clean(plain(u.text)) != sentence)


def _label(key: str) -> str:
    """A key without its numbers: "Answer 3" and "Answer 5" are one label."""
    return " ".join(t for t in normalized(key).split() if not t.isdigit())


def _spread(found: list[Found]) -> list[Found]:
    """The facts in turns over their passages (each passage's best first): a quiz covers the section, not one
    table of it."""
    by_passage: dict[str, list[Found]] = {}
    for f in found:
        by_passage.setdefault(f.passage.id, []).append(f)
    return [f for round_ in range(max(map(len, by_passage.values()), default=0)) for f in _round(by_passage, round_)]


def _round(by_passage: dict[str, list[Found]], index: int) -> list[Found]:
    return [facts[index] for facts in by_passage.values() if index < len(facts)]


def _definable(found: Found, chapter: Chapter) -> bool:
    """A fact to ask "What is meant by ...?" of: a sentence that defines a term, or a list entry whose lead the
    chapter uses elsewhere (a term, not a one-off label)."""
    kind = found.fact.kind
    return kind == "definition" or (kind == "entry" and chapter.used(found.fact.key) >= 2)


def _asked(found: Found) -> str:
    """The blanked sentence; a table row's under its section's name."""
    fact = found.fact
    if fact.kind != "row":
        return fact.cloze
    section = found.passage.breadcrumb.rsplit("›", 1)[-1].strip()
    return f"{section} — {fact.cloze}" if section else fact.cloze
