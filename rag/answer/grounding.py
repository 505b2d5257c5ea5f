"""The grounding checker: is each answer sentence supported by the passage it cites?

Post-hoc attribution in the spirit of RARR and ALCE's citation checks, with
what runs offline on a CPU in milliseconds instead of an NLI model: per
sentence and passage, three pieces of evidence must agree.

- **Coverage**: most of the sentence's content terms (stemmed, weighted by how
  rare they are in the book) occur in the passage.
- **Exact details**: every number, code span, command, flag and identifier of the
  sentence occurs in the passage as written, numbers in the part of the passage
  the sentence is about ("6-axis" is not "9-axis", `-e` is not `-l`).
- **Polarity**: a sentence that negates what that part of the passage states (or
  the reverse) is not supported by it.

Then a sentence supported by the passages it cites keeps them; one supported by
another passage is re-cited to it (or given its first citation); one no passage
supports is kept but flagged; a sentence with no factual claim ("Hope that
helps!") is left alone. Code blocks are checked as a whole: supported when their
lines appear in one passage; they are flagged, never re-cited.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from rag.text.citations import MARKER, parse_numbers
from rag.text.lexical import content_terms, words
from rag.text.sentences import Unit, plain, split_markdown

Verdict = Literal["supported", "cited", "recited", "unsupported", "no_claim"]

# A sentence needs this share of its content terms in a passage, or this lower share and this closeness in
# meaning to the passage's best parts (of the first few, in the first few passages); a code block needs this
# share of its lines.
MIN_COVERAGE = 0.6
MIN_DENSE_COVERAGE = 0.45
MIN_SIMILARITY = 0.7
DENSE_PARTS = 3
DENSE_PASSAGES = 2
MIN_CODE_LINES = 0.8
PREPARED_PASSAGES = 512
# Fewer content terms than this is not a checkable claim ("Yes, it does.").
MIN_CLAIM_TERMS = 3

# Openers of sentences that talk to the student instead of stating a fact.
_NO_CLAIM = re.compile(
    r"^(?:(?:i\s+)?hope\b|let\s+me\s+know|feel\s+free|good\s+luck|happy\s+\w+ing\b|glad\b|sure\b|of\s+course\b|"
    r"certainly\b|absolutely\b|(?:great|good|excellent|nice)\s+question|you'?re\s+welcome|thanks?\b|thank\s+you|"
    r"(?:do\s+you\s+)?want\s+me\s+to|would\s+you\s+like|shall\s+i|if\s+you\s+(?:have|want|need|'d\s+like)\s+"
    r"(?:any\s+)?(?:more|other|further)|here(?:'s|\s+is|\s+are)\s+(?:how|what|the|a|an|some)\b(?:[^.!?]{0,40})[:.!]?$)",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|can't|won't|don't|doesn't|isn't|aren't|without|neither|nor)\b|n't\b", re.IGNORECASE
)
_CLAUSE = re.compile(r"[,;:]|\band\b|\bbut\b|\bwhile\b", re.IGNORECASE)
_CONDITION = re.compile(r"\b(?:if|unless|otherwise|or|else)\b", re.IGNORECASE)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Numbers, with thousands separators and decimals; a range ("8-10", "8 to 10") is one token.
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(?:\s*(?:-|–|to)\s*\$?(\d+(?:[.,]\d+)*))?(?![\d])")
# Identifiers and commands: words with digits, inner '_', '/', '.', '::', or a leading '-' (flags).
_XML_TAG = re.compile(r"</?([\w:-]+)[^>]*/?>")
_ABBREVIATION = re.compile(r"[A-Za-z](?:\.[A-Za-z])+\.?")
_IDENTIFIER = re.compile(
    r"(?<![\w-])(?:--?[A-Za-z][\w-]*|[A-Za-z_][\w-]*(?:(?:::|[_/.])[\w-]+)+|[A-Za-z]+\d[\w-]*|"
    r"[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*)"
)


def _number(text: str) -> str:
    """'2,500' -> '2500', '10.0' -> '10': numbers compare by value."""
    text = text.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text) else text
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)


def numbers(text: str) -> set[str]:
    """Number tokens: each single number, and each range as 'lo-hi' (whose ends also count alone)."""
    found: set[str] = set()
    for m in _NUMBER.finditer(text):
        lo = _number(m.group(1))
        found.add(lo)
        if m.group(2):
            hi = _number(m.group(2))
            found |= {hi, f"{lo}-{hi}"}
    return found


def _squash(text: str) -> str:
    return " ".join(text.lower().replace("**", "").split())


@dataclass
class _Part:
    """One sentence, list item or table row of a passage, prepared for matching."""

    text: str
    terms: set[str]
    numbers: set[str]
    negated: bool
    row: bool


@dataclass
class PreparedPassage:
    """A passage's text in the forms the checks compare against (never changed once made: the checker
    reuses it for later answers)."""

    n: int
    text: str
    squashed: str
    terms: set[str]
    words: set[str]
    parts: list[_Part] = field(default_factory=list)

    @classmethod
    def of(cls, n: int, text: str) -> PreparedPassage:
        parts = []
        for unit in split_markdown(text):
            body = unit.text if unit.kind == "code" else plain(unit.text)
            parts.append(
                _Part(
                    body,
                    set(content_terms(body)),
                    numbers(body),
                    bool(_NEGATION.search(body)),
                    unit.text.lstrip().startswith("|") or unit.text.count("|") >= 2,
                )
            )
        return cls(n, text, _squash(text), set(content_terms(text)), set(words(text)), parts)


@dataclass(frozen=True)
class Support:
    """How well one passage (or the set a sentence cites) supports a sentence."""

    coverage: float
    ok: bool
    reason: str


@dataclass(frozen=True)
class CheckedSentence:
    """One unit of the answer after the check. `cites` are passage numbers as the answer's input used them."""

    text: str  # as it stands in the checked answer
    cites: list[int]
    verdict: Verdict
    score: float
    reason: str = ""

    @property
    def supported(self) -> bool | None:
        """True or False for a claim; None for a sentence with no factual claim."""
        return None if self.verdict == "no_claim" else self.verdict != "unsupported"


def supported_share(sentences: Sequence[CheckedSentence]) -> float | None:
    """Share of the claim sentences that are supported; None when no sentence makes a claim."""
    claims = [s for s in sentences if s.supported is not None]
    return sum(bool(s.supported) for s in claims) / len(claims) if claims else None


@dataclass(frozen=True)
class GroundingResult:
    text: str  # the answer with citations added or moved (markers numbered as in the input)
    sentences: list[CheckedSentence]

    @property
    def grounded(self) -> float:
        """Share of claim sentences that are supported (1.0 when there is no claim)."""
        share = supported_share(self.sentences)
        return 1.0 if share is None else share

    @property
    def unsupported(self) -> list[CheckedSentence]:
        return [s for s in self.sentences if s.verdict == "unsupported"]


class GroundingChecker:
    """Checks answers against numbered passages.

    `embed` (texts -> unit vectors) adds the dense evidence: a sentence whose words are only partly in a
    passage (a paraphrase) is still supported when it is close in meaning to the passage's best parts.
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None = None):
        self.embed = embed
        self._prepared: OrderedDict[str, PreparedPassage] = OrderedDict()  # the book's passages recur

    def _prepare(self, n: int, text: str) -> PreparedPassage:
        """A passage prepared once and kept (a few hundred recently used): most questions retrieve a passage
        some earlier question retrieved."""
        found = self._prepared.get(text)
        if found is None:
            found = self._prepared[text] = PreparedPassage.of(0, text)
            if len(self._prepared) > PREPARED_PASSAGES:
                self._prepared.popitem(last=False)
        return replace(found, n=n)

    def check(self, answer: str, passages: Sequence[str]) -> GroundingResult:
        prepared = [self._prepare(n, text) for n, text in enumerate(passages, 1)]
        pieces, checked, last = [], [], 0
        for unit in split_markdown(answer):
            if unit.kind in ("heading", "rule"):
                continue
            result = self._check_unit(unit, prepared)
            pieces.append(answer[last : unit.start] + result.text)
            last = unit.end
            checked.append(result)
        pieces.append(answer[last:])
        return GroundingResult("".join(pieces), checked)

    # -- one unit -------------------------------------------------------------------------

    def _check_unit(self, unit: Unit, passages: list[PreparedPassage]) -> CheckedSentence:
        if unit.kind == "code":
            return _check_code(unit, passages)
        cites = [n for n in _cited(unit.text) if 1 <= n <= len(passages)]
        claim = MARKER.sub("", plain(unit.text)).strip()
        terms = list(dict.fromkeys(content_terms(claim)))
        if _NO_CLAIM.match(claim) or claim.endswith("?") or len(terms) < MIN_CLAIM_TERMS:
            return CheckedSentence(unit.text, cites, "no_claim", 0.0)
        if cites:
            cited = self._support(claim, terms, [passages[n - 1] for n in cites])
            if cited.ok:
                return CheckedSentence(unit.text, cites, "supported", cited.coverage)
            if cited.coverage >= MIN_COVERAGE:  # the passage it cites says otherwise: altered, not miscited
                return CheckedSentence(unit.text, cites, "unsupported", cited.coverage, cited.reason)
        others = [p for p in passages if p.n not in cites]
        best, support = self._best(claim, terms, others)
        if best is None:
            return CheckedSentence(unit.text, cites, "unsupported", support.coverage, support.reason)
        return CheckedSentence(_recite(unit.text, [best]), [best], "recited" if cites else "cited", support.coverage)

    def _best(self, claim: str, terms: list[str], passages: list[PreparedPassage]) -> tuple[int | None, Support]:
        """The passage that supports the claim (None if none does) and its support. The dense model is
        asked about the closest passages only, when words alone do not decide."""
        lexical = sorted(
            ((self._support(claim, terms, [p], dense=False), p) for p in passages),
            key=lambda sp: (sp[0].ok, sp[0].coverage),
            reverse=True,
        )
        if not lexical:
            return None, Support(0.0, False, "no passage to compare with")
        support, passage = lexical[0]
        if support.ok:
            return passage.n, support
        for lexical_support, candidate in lexical[:DENSE_PASSAGES]:
            if lexical_support.coverage >= MIN_DENSE_COVERAGE:
                dense_support = self._support(claim, terms, [candidate])
                if dense_support.ok:
                    return candidate.n, dense_support
        return None, support

    def _support(self, claim: str, terms: list[str], passages: list[PreparedPassage], dense: bool = True) -> Support:
        """Coverage (or closeness in meaning), exact details and polarity of a claim against `passages` together."""
        found = set().union(*(p.terms for p in passages))
        coverage = sum(t in found for t in terms) / len(terms)
        if coverage < MIN_COVERAGE:
            similarity = self._similarity(claim, terms, passages) if dense and coverage >= MIN_DENSE_COVERAGE else 0.0
            if similarity < MIN_SIMILARITY:
                return Support(coverage, False, f"only {coverage:.0%} of its words are in the passage")
        problem = _missing_detail(claim, passages) or _polarity(claim, [part for p in passages for part in p.parts])
        return Support(coverage, problem is None, problem or "")

    def _similarity(self, claim: str, terms: list[str], passages: list[PreparedPassage]) -> float:
        """Cosine similarity of the claim and the passage parts that share the most words with it."""
        if self.embed is None:
            return 0.0
        wanted = set(terms)
        parts = sorted((part for p in passages for part in p.parts), key=lambda part: -len(wanted & part.terms))
        texts = [part.text for part in parts[:DENSE_PARTS] if wanted & part.terms]
        if not texts:
            return 0.0
        vectors = self.embed([claim, *texts])
        return float(np.max(vectors[1:] @ vectors[0]))


def _check_code(unit: Unit, passages: list[PreparedPassage]) -> CheckedSentence:
    """A code block is supported when its lines are in one passage."""
    lines = [_squash(line) for line in unit.text.splitlines()[1:-1] if len(line.strip()) > 2]
    if not lines:
        return CheckedSentence(unit.text, [], "no_claim", 0.0)
    best = max((sum(line in p.squashed for line in lines) / len(lines) for p in passages), default=0.0)
    if best >= MIN_CODE_LINES:
        return CheckedSentence(unit.text, [], "supported", best)
    return CheckedSentence(unit.text, [], "unsupported", best, "the code is not in any passage")


def _missing_detail(claim: str, passages: list[PreparedPassage]) -> str | None:
    """The first code span, identifier or number of the claim that the passages do not hold as written."""
    squashed = " ".join(p.squashed for p in passages)
    for span in _CODE_SPAN.findall(claim):
        tag = _XML_TAG.fullmatch(span.strip())
        if (f"<{tag.group(1).lower()}" if tag else _squash(span)) not in squashed:
            return f"`{span}` is not in the passage"
    prose = _CODE_SPAN.sub(" ", claim)
    passage_words = set().union(*(p.words for p in passages))
    for token in _IDENTIFIER.findall(prose):
        if _ABBREVIATION.fullmatch(token):
            continue
        whole = "/" in token or _squash(token) in squashed  # "AI/ML" is two words, not a path
        if not whole or not all(w in passage_words for w in words(token)):
            return f"'{token}' is not in the passage"
    parts = [part for p in passages for part in p.parts]
    for clause in _CLAUSE.split(prose):  # "the MPU-6050 is a 9-axis IMU": both numbers of one item
        together = {_number_token(m) for m in _NUMBER.finditer(clause)}
        if len(together) > 1 and not any(together <= part.numbers for part in parts):
            return f"the numbers {', '.join(sorted(together))} are not together in the passage"
    for m in _NUMBER.finditer(prose):
        number = _number_token(m)
        holding = [part for part in parts if number in part.numbers]
        # What the sentence says of the number, as far as the passage speaks of it at all.
        near = set(content_terms(_around(prose, m.start(), m.end()))) & set().union(*(p.terms for p in passages))
        near -= numbers(prose)
        if not any(not near or near & part.terms or not part.terms - part.numbers for part in holding):
            return f"the number {m.group(0).strip()} is not in the passage with what the sentence says of it"
    return None


def _number_token(m: re.Match) -> str:
    """A number as the claim states it: a range as 'lo-hi'."""
    lo = _number(m.group(1))
    return f"{lo}-{_number(m.group(2))}" if m.group(2) else lo


def _around(text: str, start: int, end: int, width: int = 5) -> str:
    """The few words before and after a span: what a number in a sentence is about."""
    before, after = text[:start].split()[-width:], text[end:].split()[:width]
    return " ".join(before + after)


def _negated_clause(text: str) -> set[str] | None:
    """Content terms after the first negation, up to the end of its clause; None without negation.
    A negation inside a condition ("..., or it won't move") states no fact to contradict."""
    m = _NEGATION.search(text)
    if m is None or _CONDITION.search(text[: m.start()]):
        return None
    return set(content_terms(re.split(r"[,.;:!?()]", text[m.end() :], maxsplit=1)[0]))


def _polarity(claim: str, parts: list[_Part]) -> str | None:
    """A claim that denies what a passage part asserts, or asserts what it denies."""
    if _NEGATION.search(claim):
        clause = _negated_clause(claim) or set()
        best = max(parts, key=lambda part: len(clause & part.terms), default=None)
        if len(clause) >= 2 and best is not None and len(clause & best.terms) >= 2 and not best.negated:
            return "it negates what the passage says"
        return None
    terms = set(content_terms(claim))
    best = max(parts, key=lambda part: len(terms & part.terms), default=None)
    if best is not None and len((_negated_clause(best.text) or set()) & terms) >= 2:
        return "the passage says the opposite"
    return None


def _cited(text: str) -> list[int]:
    numbers_: list[int] = []
    for m in MARKER.finditer(text):
        numbers_ += [n for n in parse_numbers(m.group(1)) if n not in numbers_]
    return numbers_


def _recite(text: str, cites: list[int]) -> str:
    """The sentence with its markers replaced by `cites`, placed before its closing punctuation."""
    bare = re.sub(r"\s*" + MARKER.pattern, "", text).rstrip()
    markers = "".join(f"[{n}]" for n in cites)
    m = re.search(r"[.!?:;]+[\"')\]]*$", bare)
    return f"{bare[: m.start()]} {markers}{bare[m.start() :]}" if m else f"{bare} {markers}"
