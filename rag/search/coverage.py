"""Does the book answer this question at all? Decided from three signals before any model is called.

1. **Meaning**: the best dense (cosine) similarity of a passage to the question.
2. **Rare terms**: a specific term of the question (a part number, a product or tool name) that the book never
   uses means the book cannot answer it, however close the rest is ("micro-ROS on an ESP32"). A bare number
   ("in 2024", "(11)") names no topic, and neither does a name the student coined: a path or file name, or a
   name they give their own things ("my package turtle_mover", "a node called scan_fuser").
3. **A passage that addresses it**: the share of the question's terms, weighted by rarity in the book, that the
   best passage holds. An exact-term question (part numbers, commands, API names) that BM25 finds is covered
   even when its dense similarity is low.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text.lexical import STOPWORDS, TermStats, content_terms

# Below this similarity only a passage holding most of the question's rare terms makes it covered.
MIN_TERM_COVERAGE = 0.6
# Below this similarity nothing is covered: the question is about something else entirely.
SIMILARITY_FLOOR = 0.15
# Chat words (lowercase, not in the model's vocabulary) shorter than this are not names: "ugh", "thx", "idk".
MIN_NAME_LENGTH = 4

_WORD = re.compile(r"[\w~]+(?:[-./][\w]+)*/?")
# A bare number, a year or a version: "2024", "(11)", "3.5".
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A path or a file name: "~/ros2_ws", "src/my_pkg", "talker.py".
_PATH = re.compile(
    r"^(?:~|\.{1,2})?/|/|\.(?:py|cpp|hpp|h|c|yaml|yml|xml|json|launch|sdf|urdf|xacro|md|txt|sh|toml|cfg)$"
)
# Words that introduce a name the student gave their own thing, up to this many words before it.
_COINING = re.compile(r"\b(?:my|our|mine|called|named|name|i\s+made|i\s+created|i\s+wrote)\b", re.IGNORECASE)
COINING_WORDS = 3


@dataclass(frozen=True)
class Coverage:
    covered: bool
    reason: str  # one line for the "Searching the textbook" step
    best_similarity: float
    term_coverage: float  # rarity-weighted share of the question's terms in the best passage
    absent: tuple[str, ...] = ()  # specific words of the question the book never uses


def specific_words(question: str, vocabulary: frozenset[str]) -> list[str]:
    """Words that name something: with a digit, in capitals (not opening a sentence), or not an everyday
    word (missing from the embedding model's vocabulary: "webots", "esp32", "kalibr"). Bare numbers and names
    the student coined (`_coined`) are not among them."""
    found = []
    for m in _WORD.finditer(question):
        word = m.group(0)
        lower = word.lower()
        if lower in STOPWORDS or len(word) < 2 or _NUMBER.fullmatch(word) or _coined(question, m):
            continue
        opens_sentence = not question[: m.start()].strip() or question[: m.start()].rstrip()[-1] in ".?!"
        named = (
            any(c.isdigit() for c in word)
            or (word.isupper() and word.isalpha())
            or (word[0].isupper() and not opens_sentence)
            or (lower not in vocabulary and len(word) >= MIN_NAME_LENGTH)
        )
        if named:
            found.append(word)
    return found


def _coined(question: str, m: re.Match) -> bool:
    """A path or file name, or a snake_case or quoted name right after "my", "called", ...: the book cannot be
    expected to use it, so it is no topic the book lacks."""
    word = m.group(0)
    if _PATH.search(word):
        return True
    before = " ".join(question[: m.start()].split()[-COINING_WORDS:])
    quoted = question[m.start() - 1 : m.start()] in "`'\"" and m.start() > 0
    # ROS names are snake_case; a product after "my" ("my ESP32") is still the product.
    return bool(_COINING.search(before)) and ("_" in word or quoted)


def assess(
    question: str,
    passages: Sequence[str],
    best_similarity: float,
    threshold: float,
    stats: TermStats | None,
    vocabulary: frozenset[str],
) -> Coverage:
    """Covered or not, with the reason in words."""
    topic = _WORD.sub(lambda m: " " if _NUMBER.fullmatch(m.group(0)) or _coined(question, m) else m.group(0), question)
    terms = list(dict.fromkeys(content_terms(topic)))  # the question's topic words, not its numbers or coinages
    term_coverage = _term_coverage(terms, passages, stats)
    absent = tuple(w for w in specific_words(question, vocabulary) if stats is not None and not _used(w, stats))
    if absent:
        return Coverage(False, f"the book never mentions {', '.join(absent)}", best_similarity, term_coverage, absent)
    if best_similarity >= threshold:
        return Coverage(
            True, f"best similarity {best_similarity:.2f} (threshold {threshold:.2f})", best_similarity, term_coverage
        )
    if term_coverage >= MIN_TERM_COVERAGE and best_similarity >= SIMILARITY_FLOOR:
        return Coverage(
            True,
            f"a passage holds {term_coverage:.0%} of the question's key terms (similarity {best_similarity:.2f})",
            best_similarity,
            term_coverage,
        )
    return Coverage(
        False,
        f"best similarity {best_similarity:.2f} is below {threshold:.2f} and no passage holds "
        f"most of the question's key terms ({term_coverage:.0%})",
        best_similarity,
        term_coverage,
    )


def _used(word: str, stats: TermStats) -> bool:
    """The book uses the word, a typo of it, or (for a compound like "micro-ROS") the compound as written."""
    parts = [p for p in re.split(r"[-.]", word) if p]
    if len(parts) > 1:
        return word.lower() in stats.vocabulary or all(stats.uses(p) for p in parts if p.lower() not in STOPWORDS)
    return stats.uses(word)


def _term_coverage(terms: list[str], passages: Sequence[str], stats: TermStats | None) -> float:
    """The best passage's share of the question's terms, each weighted by its rarity in the book; terms the
    book never uses (everyday words like "weird" or "stuff") weigh nothing."""
    if not terms or not passages:
        return 0.0
    weights = {t: (stats.idf(t) if stats.frequency.get(t) else 0.0) if stats else 1.0 for t in terms}
    total = sum(weights.values())
    if not total:
        return 0.0
    return max(
        sum(w for t, w in weights.items() if t in found) / total for found in (set(content_terms(p)) for p in passages)
    )
