"""Whether a question is written in a language other than the book's (English), and which: detected with
lingua, whose models ship in its wheel.

A question made mostly of the book's own words and English stopwords is English and costs nothing: technical
terms ("rclpy", "URDF", "ZMP") fool a language detector on short text, and the book's words are English by
definition. Only the rest is asked of lingua, whose models (about 0.5 GB for the languages below) load on the
first such question, once per process.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from rag.text.lexical import STOPWORDS, TermStats

# The languages told apart: the most widely spoken and taught. A language missing here is read as the nearest
# one listed, which still says "not English".
LANGUAGES = (
    Language.ENGLISH,
    Language.SPANISH,
    Language.FRENCH,
    Language.GERMAN,
    Language.ITALIAN,
    Language.PORTUGUESE,
    Language.DUTCH,
    Language.POLISH,
    Language.TURKISH,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.ARABIC,
    Language.PERSIAN,
    Language.HINDI,
    Language.BENGALI,
    Language.URDU,
    Language.CHINESE,
    Language.JAPANESE,
    Language.KOREAN,
    Language.VIETNAMESE,
    Language.INDONESIAN,
)
# The share of a question's words that are the book's or English stopwords, from which it is English; and the
# fewest words a language is told from (one unknown word is a name or a typo as often as another language).
BOOK_WORDS = 0.75
MIN_WORDS = 3
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Foreign:
    """A question in another language: its language's English name, and the words of it the book uses (the
    English terms it holds: "ROS 2" in "¿Qué es un nodo en ROS 2?"), which can be searched."""

    language: str
    terms: tuple[str, ...]

    @property
    def query(self) -> str:
        return " ".join(self.terms)


class QuestionLanguage:
    """Tells a question's language; the detector is built on the first question that needs it, once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._detector: LanguageDetector | None = None

    def foreign(self, question: str, stats: TermStats) -> Foreign | None:
        """None when the question is in English (or too short to tell); otherwise its language and terms."""
        found = _WORD.findall(question)
        known = [w for w in found if w.lower() in STOPWORDS or w.lower() in stats.vocabulary]
        if len(found) < MIN_WORDS or len(known) >= BOOK_WORDS * len(found):
            return None
        language = self.detector.detect_language_of(question)
        if language is None or language == Language.ENGLISH:
            return None
        terms = tuple(dict.fromkeys(w for w in known if w.lower() not in STOPWORDS))
        return Foreign(language.name.title(), terms)

    @property
    def detector(self) -> LanguageDetector:
        with self._lock:
            if self._detector is None:
                self._detector = LanguageDetectorBuilder.from_languages(*LANGUAGES).build()
            return self._detector
