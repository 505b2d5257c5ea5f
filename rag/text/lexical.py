"""Words as the checker, the excerpt composer and the coverage test compare them.

Content terms are lower-cased, stemmed (Snowball, the stemmer fastembed's BM25
uses) and stripped of English stopwords, so "sensors" matches "sensor" and "the"
matches nothing. Corpus statistics (how many chunks hold a term) make rare,
specific terms weigh more than common ones.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import stopwords
from py_rust_stemmers import SnowballStemmer

_WORD = re.compile(r"\w+")
_STEMMER = SnowballStemmer("english")
STOPWORDS = frozenset(stopwords.get_stopwords("english")) | {"s", "t", "ll", "re", "ve", "d", "m"}
# Words an answer uses to talk about the book or to hedge, which the book itself does not say.
DISCOURSE = frozenset(
    {
        "book",
        "textbook",
        "say",
        "says",
        "said",
        "note",
        "notes",
        "mention",
        "mentions",
        "mentioned",
        "explain",
        "explains",
        "describe",
        "describes",
        "state",
        "states",
        "also",
        "actually",
        "basically",
        "really",
        "simply",
        "just",
        "thing",
        "things",
    }
)
_MONTHS = {
    m: m[:3]
    for m in (
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    )
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _STEMMER.stem_word(word)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, '_'), as BM25 splits them."""
    return _WORD.findall(text.lower())


def term(word: str) -> str:
    return stem(_MONTHS.get(word, word))


def content_terms(text: str) -> list[str]:
    """Stemmed words that carry meaning: stopwords dropped, month names shortened ("Sep" is "September"),
    order and repeats kept."""
    return [term(w) for w in words(text) if w not in STOPWORDS and w not in DISCOURSE]


@dataclass(frozen=True)
class TermStats:
    """Document frequencies of content terms over the collection's chunks, and every word the book uses."""

    documents: int
    frequency: dict[str, int]
    vocabulary: frozenset[str]

    @classmethod
    def build(cls, texts: Iterable[str]) -> TermStats:
        frequency: Counter[str] = Counter()
        vocabulary: set[str] = set()
        documents = 0
        for text in texts:
            documents += 1
            found = words(text)
            vocabulary.update(found)
            frequency.update({term(w) for w in found if w not in STOPWORDS})
        return cls(documents, dict(frequency), frozenset(vocabulary))

    def idf(self, term: str) -> float:
        """BM25's idf; a term no chunk holds gets the highest weight any term can have."""
        n = self.frequency.get(term, 0)
        return math.log(1 + (self.documents - n + 0.5) / (n + 0.5))

    def uses(self, word: str) -> bool:
        """Does the book use this word, or (for letters only: "2014" is not "2024") one a typo away from it?"""
        word = word.lower()
        if word in self.vocabulary or term(word) in self.frequency:
            return True
        return len(word) >= 3 and word.isalpha() and any(candidate in self.vocabulary for candidate in _edits(word))


def _edits(word: str) -> set[str]:
    """Every string one deletion, swap, replacement or insertion away (Norvig's spelling corrector)."""
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return (
        {a + b[1:] for a, b in splits if b}
        | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        | {a + c + b[1:] for a, b in splits if b for c in letters}
        | {a + c + b for a, b in splits for c in letters}
    )
