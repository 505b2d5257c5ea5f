"""The grounding checker: is each answer sentence supported by the passage it cites?

Post-hoc attribution in the spirit of RARR and ALCE's citation checks, with
what runs offline on a CPU in milliseconds instead of an NLI model: per
sentence and passage, the pieces of evidence must agree.

- **Coverage**: most of the sentence's content terms (stemmed) occur in the
  passage, or enough of them do and the sentence is close in meaning to the
  passage's best parts.
- **Exact details**: every number, code span, command, flag and identifier of the
  sentence occurs in the passage as written, numbers in the part of the passage
  the sentence is about ("6-axis" is not "9-axis", `-e` is not `-l`): the same
  sentence, table row or table column, or derived from them by a product or a sum.
- **Wording**: a sentence that negates what the closest clause of the passage states
  (or the reverse), puts one thing the passage names in the place of another
  ("the accelerometer measures angular velocity"), or reverses a "from ... to ..."
  is not supported by it.

Three verdicts follow (docs/quality.md): *supported* (kept, or given the citation
of the passage that supports it); *not verified* (a paraphrase or a derived number
that nothing contradicts, but the offline evidence cannot confirm: an LLM judge may
decide it, `rag.answer.judge`); *unsupported* (contradicted, or absent from every
passage). A sentence with no factual claim ("Hope that helps!") is left alone.
Code blocks are checked as a whole: supported when their lines appear in one
passage; they are flagged, never re-cited.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from typing import Literal

import numpy as np

from rag.answer.prepared import CLAUSE_BREAK, Clause, Derived, Part, PreparedPassage, clauses, squash
from rag.text.citations import MARKER, parse_numbers
from rag.text.lexical import content_terms, term, words
from rag.text.numbers import NUMBER, normal, numbers, token
from rag.text.sentences import Unit, plain, split_markdown, table_rule

Verdict = Literal["supported", "cited", "recited", "unverified", "unsupported", "no_claim"]
Level = Literal["supported", "unverified", "unsupported"]

# A sentence needs this share of its content terms in a passage, or this lower share and this closeness in
# meaning to the passage's best parts (of the first few, in the first few passages); a code block needs this
# share of its lines.
MIN_COVERAGE = 0.6
MIN_DENSE_COVERAGE = 0.45
MIN_SIMILARITY = 0.7
# Below those, a sentence this close to a passage, with every detail in it, is a paraphrase: not verified.
MIN_PARAPHRASE_COVERAGE = 0.4
MIN_PARAPHRASE_SIMILARITY = 0.6
DENSE_PARTS = 3
DENSE_PASSAGES = 2
MIN_CODE_LINES = 0.8
PREPARED_PASSAGES = 512
EMBEDDED_TEXTS = 4096
# Fewer content terms than this is not a checkable claim ("Yes, it does.").
MIN_CLAIM_TERMS = 3
# A table row the sentence names this many words or fewer from a number is the row the number is said of.
NAMED_ROW_WORDS = 6
# A clause this close to the sentence's (in order) is the one it restates; one word apart is a swap.
MIN_CLAUSE_MATCH = 0.6
# A clause this close with one word the passages never use in place of one of theirs may be a changed fact.
MIN_SWAP_MATCH = 0.75
# A clause of opposite polarity must restate the passage's this closely to contradict it.
MIN_POLARITY_MATCH = 0.7

# Openers of sentences that talk to the student instead of stating a fact.
_NO_CLAIM = re.compile(
    r"^(?:(?:i\s+)?hope\b|let\s+me\s+know|feel\s+free|good\s+luck|happy\s+\w+ing\b|glad\b|sure\b|of\s+course\b|"
    r"certainly\b|absolutely\b|(?:great|good|excellent|nice)\s+question|you'?re\s+welcome|thanks?\b|thank\s+you|"
    r"(?:do\s+you\s+)?want\s+me\s+to|would\s+you\s+like|shall\s+i|if\s+you\s+(?:have|want|need|'d\s+like)\s+"
    r"(?:any\s+)?(?:more|other|further)|here(?:'s|\s+is|\s+are)\s+(?:how|what|the|a|an|some)\b(?:[^.!?]{0,40})[:.!]?$)",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[,;:]|\band\b|\bbut\b|\bwhile\b", re.IGNORECASE)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Words that make a statement absolute: a claim using one the passage lacks says more than the passage.
_STRONG = re.compile(
    r"\b(?:always|never|only|must|exactly|all|every|default|required|mandatory|guaranteed|identical)\b", re.IGNORECASE
)
_FROM_TO = re.compile(r"\bfrom\s+`?([\w/.-]*\w)`?\s+(?:frame\s+)?to\s+`?([\w/.-]*\w)`?", re.IGNORECASE)
# Identifiers and commands: words with digits, inner '_', '/', '.', '::', or a leading '-' (flags).
_XML_TAG = re.compile(r"</?([\w:-]+)[^>]*/?>")
_ABBREVIATION = re.compile(r"[A-Za-z](?:\.[A-Za-z])+\.?")
_IDENTIFIER = re.compile(
    r"(?<![\w-])(?:--?[A-Za-z][\w-]*|[A-Za-z_][\w-]*(?:(?:::|[_/.])[\w-]+)+|[A-Za-z]+\d[\w-]*|"
    r"[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*)"
)


@dataclass(frozen=True)
class Support:
    """How well one passage (or the set a sentence cites) supports a sentence."""

    coverage: float
    level: Level
    reason: str

    @property
    def ok(self) -> bool:
        return self.level == "supported"


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
        """True or False for a decided claim; None for a sentence with no factual claim, or one not verified
        (neither confirmed nor contradicted, so it counts neither way in `supported_share`)."""
        return None if self.verdict in ("no_claim", "unverified") else self.verdict != "unsupported"

    @property
    def flagged(self) -> bool:
        """Contradicted by its passages, or absent from all of them."""
        return self.verdict == "unsupported"


PublicVerdict = Literal["supported", "not_verified", "unsupported", "no_claim"]


def public_verdict(sentence: CheckedSentence) -> PublicVerdict:
    """The three verdicts (and "no claim") as docs/quality.md and the REST API name them: a citation the checker
    added or moved is still a supported sentence."""
    if sentence.verdict in ("supported", "cited", "recited"):
        return "supported"
    if sentence.verdict == "unverified":
        return "not_verified"
    return "unsupported" if sentence.verdict == "unsupported" else "no_claim"


def supported_share(sentences: Sequence[CheckedSentence]) -> float | None:
    """Share of the decided claim sentences that are supported; None when none is decided."""
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
        return [s for s in self.sentences if s.flagged]


class GroundingChecker:
    """Checks answers against numbered passages.

    `embed` (texts -> unit vectors) adds the dense evidence: a sentence whose words are only partly in a
    passage (a paraphrase) is still supported when it is close in meaning to the passage's best parts.
    """

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None = None):
        self.embed = embed
        self._prepared: OrderedDict[str, PreparedPassage] = OrderedDict()  # the book's passages recur
        self._embedded: OrderedDict[str, np.ndarray] = OrderedDict()

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
        units = split_markdown(answer)
        for i, unit in enumerate(units):
            if unit.kind in ("heading", "rule") or _table_header(unit, units[i + 1] if i + 1 < len(units) else None):
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
        cited = self._support(claim, terms, [passages[n - 1] for n in cites]) if cites else None
        if cited is not None and cited.ok:
            return CheckedSentence(unit.text, cites, "supported", cited.coverage, cited.reason)
        if cited is not None and cited.level == "unsupported" and cited.coverage >= MIN_COVERAGE:
            # the passage it cites says otherwise: altered, not miscited
            return CheckedSentence(unit.text, cites, "unsupported", cited.coverage, cited.reason)
        best, support = self._best(claim, terms, [p for p in passages if p.n not in cites])
        if best is not None and support.ok:
            verdict: Verdict = "recited" if cites else "cited"
            return CheckedSentence(_recite(unit.text, [best]), [best], verdict, support.coverage, support.reason)
        if cited is not None and (cited.level == "unverified" or best is None):
            return CheckedSentence(unit.text, cites, cited.level, cited.coverage, cited.reason)
        if best is not None:  # unverified against a passage it did not cite: cite that one, not verified
            return CheckedSentence(_recite(unit.text, [best]), [best], support.level, support.coverage, support.reason)
        return CheckedSentence(unit.text, cites, "unsupported", support.coverage, support.reason)

    def _best(self, claim: str, terms: list[str], passages: list[PreparedPassage]) -> tuple[int | None, Support]:
        """The passage that supports the claim best (None if none supports or paraphrases it) and its
        support. The dense model is asked about the closest passages only, when words alone do not decide."""
        lexical = sorted(
            ((self._support(claim, terms, [p], dense=False), p) for p in passages),
            key=lambda sp: (sp[0].ok, sp[0].coverage),
            reverse=True,
        )
        if not lexical:
            return None, Support(0.0, "unsupported", "no passage to compare with")
        if lexical[0][0].ok:
            return lexical[0][1].n, lexical[0][0]
        dense = [
            (self._support(claim, terms, [p]), p)
            for s, p in lexical[:DENSE_PASSAGES]
            if s.level != "unsupported" or s.coverage < MIN_COVERAGE
        ]
        for level in ("supported", "unverified"):
            for support, passage in dense:
                if support.level == level:
                    return passage.n, support
        return None, lexical[0][0]

    def _support(self, claim: str, terms: list[str], passages: list[PreparedPassage], dense: bool = True) -> Support:
        """Coverage (or closeness in meaning), exact details and wording of a claim against `passages` together."""
        found = set().union(*(p.terms for p in passages))
        coverage = sum(t in found for t in terms) / len(terms)
        if coverage < MIN_PARAPHRASE_COVERAGE and not NUMBER.search(claim):  # only a derived number could save it
            return Support(coverage, "unsupported", _few(coverage))
        details = _details(claim, passages)
        if details.problem:
            return Support(coverage, "unsupported", details.problem)
        wording = _wording(claim, passages) or _strengthened(claim, passages)
        if wording and (wording[0] == "unsupported" or coverage >= MIN_COVERAGE):
            return Support(coverage, *wording)
        derived = f"derived: {'; '.join(details.derived)}" if details.derived else ""
        if coverage >= MIN_COVERAGE:
            return Support(coverage, "supported", derived)
        if not dense:  # words alone do not decide
            return Support(coverage, "unverified" if derived else "unsupported", derived or _few(coverage))
        similarity = self._similarity(claim, terms, passages) if coverage >= MIN_PARAPHRASE_COVERAGE else 0.0
        if (coverage >= MIN_DENSE_COVERAGE and similarity >= MIN_SIMILARITY) or (
            derived and coverage >= MIN_PARAPHRASE_COVERAGE
        ):
            return Support(coverage, "supported", derived)  # a derived number in a sentence about the passage
        if derived or similarity >= MIN_PARAPHRASE_SIMILARITY:
            reason = derived or f"a paraphrase: {coverage:.0%} of its words, close in meaning"
            return Support(coverage, "unverified", reason)
        return Support(coverage, "unsupported", _few(coverage))

    def _similarity(self, claim: str, terms: list[str], passages: list[PreparedPassage]) -> float:
        """Cosine similarity of the claim and the passage parts that share the most words with it."""
        if self.embed is None:
            return 0.0
        wanted = set(terms)
        parts = sorted((part for p in passages for part in p.parts), key=lambda part: -len(wanted & part.terms))
        texts = [part.text for part in parts[:DENSE_PARTS] if wanted & part.terms]
        if not texts:
            return 0.0
        vectors = self._vectors([claim, *texts])
        return float(np.max(vectors[1:] @ vectors[0]))

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts`, embedding in one call only those not embedded lately: a passage's parts
        recur across answers, and a claim is compared with several passages."""
        assert self.embed is not None
        missing = list(dict.fromkeys(t for t in texts if t not in self._embedded))
        if missing:
            for text, vector in zip(missing, self.embed(missing), strict=True):
                self._embedded[text] = vector
        for text in texts:
            self._embedded.move_to_end(text)
        while len(self._embedded) > EMBEDDED_TEXTS:
            self._embedded.popitem(last=False)
        return np.stack([self._embedded[t] for t in texts])


def _table_header(unit: Unit, after: Unit | None) -> bool:
    """A table's header row (the row before its rule) names columns: layout, not a claim to cite."""
    return unit.text.startswith("|") and after is not None and table_rule(after)


def _few(coverage: float) -> str:
    return f"only {coverage:.0%} of its words are in the passage"


def _check_code(unit: Unit, passages: list[PreparedPassage]) -> CheckedSentence:
    """A code block is supported when its lines are in one passage."""
    lines = [squash(line) for line in unit.text.splitlines()[1:-1] if len(line.strip()) > 2]
    if not lines:
        return CheckedSentence(unit.text, [], "no_claim", 0.0)
    best = max((sum(line in p.squashed for line in lines) / len(lines) for p in passages), default=0.0)
    if best >= MIN_CODE_LINES:
        return CheckedSentence(unit.text, [], "supported", best)
    return CheckedSentence(unit.text, [], "unsupported", best, "the code is not in any passage")


@dataclass(frozen=True)
class Details:
    """The first detail of a claim the passages do not hold (None if all hold), and the numbers derived."""

    problem: str | None
    derived: tuple[str, ...] = ()


def _details(claim: str, passages: list[PreparedPassage]) -> Details:
    """Code spans, identifiers and numbers of the claim, as the passages hold them."""
    squashed = " ".join(p.squashed for p in passages)
    for span in _CODE_SPAN.findall(claim):
        tag = _XML_TAG.fullmatch(span.strip())
        if (f"<{tag.group(1).lower()}" if tag else squash(span)) not in squashed:
            return Details(f"`{span}` is not in the passage")
    prose = _CODE_SPAN.sub(" ", claim)
    passage_words = set().union(*(p.words for p in passages))
    for identifier in _IDENTIFIER.findall(prose):
        if _ABBREVIATION.fullmatch(identifier):
            continue
        whole = "/" in identifier or squash(identifier) in squashed  # "AI/ML" is two words, not a path
        if not whole or not all(w in passage_words for w in words(identifier)):
            return Details(f"'{identifier}' is not in the passage")
    return _number_details(prose, passages)


def _number_details(prose: str, passages: list[PreparedPassage]) -> Details:
    """Each number of the claim stands in the passage with what the claim says of it (the same sentence,
    row or column), or is derived from the passage's numbers; numbers of one clause stand together."""
    parts = [part for p in passages for part in p.parts]
    columns = [column for p in passages for table in p.tables for column in table.columns]
    for clause in _CLAUSE.split(prose):  # "the MPU-6050 is a 9-axis IMU": both numbers of one item
        together = {token(m) for m in NUMBER.finditer(clause)}
        derivable = {n for n in together if _derivation(n, passages)}
        stated = together - derivable
        if len(stated) > 1 and not any(stated <= group for group in [*(part.numbers for part in parts), *columns]):
            return Details(f"the numbers {', '.join(sorted(stated))} are not together in the passage")
    passage_terms = set().union(*(p.terms for p in passages))
    derived = []
    for m in NUMBER.finditer(prose):
        number, shown = token(m), m.group(0).strip()
        near = set(content_terms(_around(prose, m.start(), m.end()))) & passage_terms - numbers(prose)
        holding = [part for part in parts if number in part.numbers]
        if m.group(2) and not holding and any({normal(m.group(1)), normal(m.group(2))} <= c for c in columns):
            continue  # a range over a column ("from $25 to $99")
        named = _named_row(prose, m.start(), passages, holding)
        other_row = (
            named is not None and bool(holding) and all(p.table is not None for p in holding) and named not in holding
        )
        if holding and not other_row and any(not near or near & p.terms or not p.terms - p.numbers for p in holding):
            continue
        found = _derivation(number, passages)
        if found is None or (near and not near & found.terms) or (named is not None and not named.terms <= found.terms):
            if other_row:
                return Details(f"the number {shown} is in another row than the one the sentence names")
            return Details(f"the number {shown} is not in the passage with what the sentence says of it")
        derived.append(f"{shown} = {found.how}")
    return Details(None, tuple(derived))


def _derivation(number: str, passages: list[PreparedPassage]) -> Derived | None:
    return next((p.derived[number] for p in passages if number in p.derived), None)


def _named_row(prose: str, at: int, passages: list[PreparedPassage], holding: list[Part]) -> Part | None:
    """The table row a sentence names next to the number at `at`: the one with the most of its naming words
    (`Table.keys`) within a few words of the number in its clause, a row holding the number on a tie. "The D435i costs
    $249" names the D435i's row, though the sentence names the Jetson's further away."""
    start = max((m.end() for m in CLAUSE_BREAK.finditer(prose, 0, at)), default=0)
    end = next((m.start() for m in CLAUSE_BREAK.finditer(prose, at)), len(prose))
    before, after = words(prose[start:at]), words(prose[at:end])
    nearby = {term(w) for w in before[-NAMED_ROW_WORDS:] + after[: NAMED_ROW_WORDS + 1]}
    named = [
        (len(key & nearby), row in holding, row)
        for passage in passages
        for table in passage.tables
        for row, key in zip(table.rows, table.keys, strict=True)
        if key & nearby
    ]
    return max(named, key=lambda nhr: nhr[:2])[2] if named else None


def _around(text: str, start: int, end: int, width: int = 5) -> str:
    """The few words before and after a span: what a number in a sentence is about."""
    before, after = text[:start].split()[-width:], text[end:].split()[:width]
    return " ".join(before + after)


def _wording(claim: str, passages: list[PreparedPassage]) -> tuple[Level, str] | None:
    """A claim whose words are the passage's but whose meaning is not (a negation, a swap, a reversal), or
    may not be (one word the passage never uses in place of one of its own). Each clause of the claim is
    matched to its closest passage clause once, for both the polarity and the swap."""
    matches = [_closest(clause, passages) for clause in clauses(claim)]
    problem = _polarity(matches) or _reversal(claim, passages)
    return ("unsupported", problem) if problem else _swap(matches, passages)


def _strengthened(claim: str, passages: list[PreparedPassage]) -> tuple[Level, str] | None:
    """A claim that makes the passage's statement absolute ("always", "only", "must", "by default") when no
    passage says so: stopwords carry these, so coverage alone cannot see them. Not verified, not flagged: the
    passage may say as much in other words."""
    said = {w.lower() for w in _STRONG.findall(claim)}
    absent = sorted(w for w in said if not any(re.search(rf"\b{w}\b", p.squashed) for p in passages))
    return ("unverified", f"the passage does not say '{absent[0]}'") if absent else None


@dataclass(frozen=True)
class ClauseMatch:
    """A clause of a claim, the passage clause that restates it most closely (word order included), how
    closely, and the passage part that clause is in."""

    clause: Clause
    ratio: float = 0.0
    closest: Clause | None = None
    part: Part | None = None


def _closest(clause: Clause, passages: list[PreparedPassage]) -> ClauseMatch:
    best = ClauseMatch(clause)
    for passage in passages:
        for part in passage.parts:
            for candidate in part.clauses:
                ratio = SequenceMatcher(None, clause.terms, candidate.terms, autojunk=False).ratio()
                if ratio > best.ratio:
                    best = ClauseMatch(clause, ratio, candidate, part)
    return best


def _polarity(matches: list[ClauseMatch]) -> str | None:
    """A clause that denies what the closest passage clause asserts, or asserts what it denies (negations in
    conditions do not count: `clauses`)."""
    for match in matches:
        clause, closest = match.clause, match.closest
        if closest is None or match.ratio < MIN_POLARITY_MATCH or clause.negated == closest.negated:
            continue
        if clause.conditional or closest.conditional:
            continue
        if len(clause.terms) >= 3 and len(set(clause.terms) & set(closest.terms)) >= 2:
            return "it negates what the passage says" if clause.negated else "the passage says the opposite"
    return None


def _swap(matches: list[ClauseMatch], passages: list[PreparedPassage]) -> tuple[Level, str] | None:
    """A clause that restates a passage clause with one term replaced. By another term of the same passage
    sentence, it confuses two things the passage tells apart ("the accelerometer measures angular
    velocity" where the passage says the gyroscope does): unsupported. By a word no passage uses, it may be
    a synonym or a changed fact ("identical" for "compatible"): not verified."""
    used = set().union(*(p.terms for p in passages))
    for match in matches:
        clause, closest, part = match.clause, match.closest, match.part
        if closest is None or part is None or match.ratio < MIN_CLAUSE_MATCH or len(clause.terms) < 3:
            continue
        ops = SequenceMatcher(None, clause.terms, closest.terms, autojunk=False).get_opcodes()
        replaced = [op for op in ops if op[0] == "replace"]
        if len(replaced) != 1 or any(op[0] == "delete" for op in ops):  # the claim adds nothing else
            continue
        _, i1, i2, j1, j2 = replaced[0]
        said, instead = clause.terms[i1:i2], closest.terms[j1:j2]
        if len(said) != 1 or len(instead) != 1 or said[0] in closest.terms:
            continue
        reason = f"the passage says '{instead[0]}' where the sentence says '{said[0]}'"
        rest = set(clause.terms) - {said[0]}
        if any(said[0] in other.terms and rest & set(other.terms) for other in part.clauses if other is not closest):
            return "unsupported", reason
        if said[0] not in used and match.ratio >= MIN_SWAP_MATCH:
            return "unverified", reason
    return None


def _reversal(claim: str, passages: list[PreparedPassage]) -> str | None:
    """'from A to B' where the passage only says 'from B to A'."""
    text = " ".join(p.text for p in passages)
    stated = {(a.lower(), b.lower()) for a, b in _FROM_TO.findall(text)}
    for a, b in _FROM_TO.findall(claim):
        pair = (a.lower(), b.lower())
        if pair not in stated and pair[::-1] in stated:
            return f"the passage says from {b} to {a}"
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
