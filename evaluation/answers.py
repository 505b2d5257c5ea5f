"""The whole tutor per question: retrieval, coverage, the default provider and the checker."""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

from evaluation.corpora import ingested
from evaluation.data import normalise_for_match, read_jsonl
from rag.answer.result import Answer
from rag.config import load_settings
from rag.db.database import Database
from rag.engine import Engine
from rag.search.embeddings import Embedder
from rag.text.citations import MARKER
from rag.text.lexical import content_terms
from rag.text.sentences import split_markdown

# A sentence counts toward "support" with this many content words, and is supported when this share of them
# is in one returned passage (the measure).
SUPPORT_MIN_WORDS = 4
SUPPORT_SHARE = 0.6
# An answer sentence with this share of the quote's content words holds the answering sentence.
QUOTE_SHARE = 0.8
# A citation and the space before it: "joint [1]. We" reads "joint. We", as the book wrote it.
_UNCITED = re.compile(rf"\s*{MARKER.pattern}")


def sentence_support(answer_sentences: list[str], passages: list[str]) -> tuple[int, int]:
    """(supported, counted) sentences: those with enough content words, and those mostly found in one passage."""
    found = [set(content_terms(p)) for p in passages]
    counted = supported = 0
    for sentence in answer_sentences:
        terms = content_terms(MARKER.sub("", sentence))
        if len(terms) < SUPPORT_MIN_WORDS:
            continue
        counted += 1
        supported += any(sum(t in f for t in terms) / len(terms) >= SUPPORT_SHARE for f in found)
    return supported, counted


def answers(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    """Per book (never only pooled): cited, section, answering, support and the coverage decisions."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix="chats-") as chats:  # no memory of an earlier run
        settings = load_settings(data_dir=Path(chats))
        engines = {  # a database connection per use: each question runs in its own event loop (asyncio.run)
            name: Engine.assemble(settings, store, embedder, database=Database(settings, pooled=False))
            for name, store in ingested(args.corpus, embedder, workdir).items()
        }
        details, times = [], []
        tallies: dict[str, Counter[str]] = {name: Counter() for name in engines}
        for row in read_jsonl(args.file):
            if row["corpus"] not in engines:
                continue
            tutor = engines[row["corpus"]].answers
            answer = asyncio.run(tutor.answer(row["question"], f"eval-{row['id']}", provider_name=args.provider))
            times.append(answer.processing_time_ms)
            details.append(_scored(row, answer, tallies[row["corpus"]]))
        for engine in engines.values():
            engine.close()
    lines = [_line(name, tally) for name, tally in tallies.items()]
    lines.append(f"answers p50_ms={statistics.median(times) if times else 0:.0f}")
    return lines, {"questions": details, "books": {name: dict(tally) for name, tally in tallies.items()}}


def _scored(row: dict, answer: Answer, tally: Counter[str]) -> dict:
    """One question's answer counted in its book's tally, and its details."""
    supported, counted = sentence_support([s.text for s in answer.sentences], [p.text for p in answer.passages])
    entry = {
        "id": row["id"],
        "corpus": row["corpus"],
        "answerable": row["answerable"],
        "covered": answer.covered,
        "reason": answer.coverage_reason,
        "model": answer.model,
        "ms": answer.processing_time_ms,
        "answer": answer.text,
        "supported": supported,
        "counted": counted,
        "grounded": answer.grounded,
    }
    if row["answerable"]:
        tally["answerable"] += 1
        tally["wrongly_refused"] += not answer.covered
        tally["cited"] += answer.covered and answer.cited
        section = answer.cited and answers_question(row, [s.passage for s in answer.sources])
        tally["section"] += section
        entry["answering"] = answer.covered and holds_quote(answer.text, row["quote"])
        tally["answering"] += entry["answering"]
        off_point = answer.relevance is not None and not answer.relevance.answers
        tally["off_point"] += off_point  # rag.answer.relevance's signal, against whether it holds the answer
        tally["off_point_right"] += off_point and not entry["answering"]
        tally["supported"] += supported
        tally["counted"] += counted
        entry["section"] = section
    else:
        tally["unanswerable"] += 1
        tally["refused"] += not answer.covered
    print(
        f"{row['id']:<5} {'covered' if answer.covered else 'refused':<8} {answer.processing_time_ms:>6} ms "
        f"{supported}/{counted} supported  {answer.coverage_reason}",
        file=sys.stderr,
    )
    return entry


def _line(book: str, tally: Counter[str]) -> str:
    n = max(tally["answerable"], 1)
    return (
        f"answers {book} cited={tally['cited'] / n:.2f} section={tally['section'] / n:.2f} "
        f"answering={tally['answering'] / n:.2f} "
        f"off_point={tally['off_point']} (without the answer: {tally['off_point_right']}) "
        f"support={tally['supported'] / max(tally['counted'], 1):.2f} "
        f"refused={tally['refused']}/{tally['unanswerable']} "
        f"wrongly_refused={tally['wrongly_refused']}/{tally['answerable']}"
    )


def holds_quote(answer: str, quote: str) -> bool:
    """The answer holds the book's answering sentence: the quote as written (markup and citations aside), or
    nearly all of its content words in one sentence of the answer."""
    if normalise_for_match(quote) in normalise_for_match(_UNCITED.sub("", answer)):
        return True
    wanted = set(content_terms(quote))
    return bool(wanted) and any(
        len(wanted & set(content_terms(unit.text))) >= QUOTE_SHARE * len(wanted) for unit in split_markdown(answer)
    )


def answers_question(row: dict, cited: list) -> bool:
    """A cited passage holds the answering quote, or is the answering section of the answering file."""
    quote, expected = normalise_for_match(row["quote"]), row["file"].split("/", 1)[1]
    heading = normalise_for_match(row.get("heading") or "")
    return any(
        quote in normalise_for_match(p.text)
        or (p.source_path == expected and heading and heading in normalise_for_match(p.breadcrumb))
        for p in cited
    )
