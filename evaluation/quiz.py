"""Quizzes built from a corpus with zero keys, against study mode's quality bars (docs/study.md):

- every item's answer is in its cited passage;
- no item's question holds its answer (in any case or inflection);
- every multiple-choice item has its answer once among its choices, and no choice is a case or inflection
  variant of another;
- grading takes the key, and a case and an inflection variant of it, and turns down every distractor;
- the time to build a quiz of 5 items.

Pages are taken evenly over the corpus (`--sections`), among those with text to quiz on. `--json` keeps every
item with its cited sentence, to judge by reading whether each can be answered from its passage alone.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from evaluation.corpora import ingested
from rag.answer.grounding import GroundingChecker
from rag.search.book import BookIndex
from rag.search.embeddings import Embedder
from rag.study.facts import clean, gives_away, normalized
from rag.study.grading import grade
from rag.study.items import Chapter, Item, ItemBuilder

ITEMS = 5


def variants(key: str) -> list[str]:
    """The key as a student may type it: in capitals, and (a word's) with its last word's number changed."""
    words = key.split()
    last = words[-1]
    if not last.isalpha() or len(last) < 3:
        return [key.upper()]
    if last.lower().endswith("ies"):
        other = last[:-3] + "y"
    elif last.lower().endswith("s") and not last.lower().endswith("ss"):
        other = last[:-1]
    else:
        other = last + ("es" if last.lower().endswith(("s", "x", "ch", "sh")) else "s")
    return [key.upper(), " ".join([*words[:-1], other])]


def _in_passage(item: Item) -> bool:
    text = f" {normalized(clean(item.passage.text))} "
    return f" {normalized(item.answer)} " in text or all(f" {w} " in text for w in normalized(item.answer).split())


def quiz(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    checker = GroundingChecker(embedder.embed_texts)
    builder = ItemBuilder(embedder.embed_texts, checker)
    tally: Counter[str] = Counter()
    times: list[float] = []
    kept: list[dict] = []
    for name, store in ingested(args.corpus, embedder, workdir).items():
        book = BookIndex(store).book
        pages = [path for path, passages in book.pages.items() if len(passages) >= args.min_passages]
        step = max(1, len(pages) // args.sections)
        chapters: dict[str, Chapter] = {}
        for path in pages[::step][: args.sections]:
            passages = book.pages[path]
            started = time.perf_counter()
            label = passages[0].chapter
            if label not in chapters:
                chapters[label] = Chapter.of(book.chapter_of(path))
            items = builder.build(passages, chapters[label], ITEMS)
            times.append((time.perf_counter() - started) * 1000)
            tally["sections"] += 1
            tally["sections_with_items"] += bool(items)
            for item in items:
                tally["items"] += 1
                tally[f"kind_{item.kind}"] += 1
                tally["answer_in_passage"] += _in_passage(item)
                tally["question_holds_answer"] += gives_away(item.question, item.answer)
                if item.kind != "free":
                    tally["graded"] += 1
                    tally["key_and_variants_accepted"] += all(
                        grade(item, form, checker).correct for form in [item.answer, *variants(item.answer)]
                    )
                if item.kind == "choice":
                    forms = [normalized(c) for c in item.choices]
                    tally["choice"] += 1
                    tally["choice_answer_once"] += forms.count(normalized(item.answer)) == 1
                    tally["choice_no_variants"] += len(set(forms)) == len(forms)
                    tally["distractors"] += len(item.choices) - 1
                    tally["distractors_rejected"] += sum(
                        not grade(item, c, checker).correct for c in item.choices if c != item.answer
                    )
                kept.append(
                    {
                        "corpus": name,
                        "page": path,
                        "kind": item.kind,
                        "question": item.question,
                        "choices": list(item.choices),
                        "answer": item.answer,
                        "sentence": item.sentence,
                        "section": item.passage.breadcrumb,
                    }
                )
        store.close()
    n = max(tally["items"], 1)
    summary = [
        f"sections={tally['sections']} with_items={tally['sections_with_items']} items={tally['items']} "
        f"(free {tally['kind_free']}, choice {tally['kind_choice']}, fill {tally['kind_fill']})",
        f"answer_in_cited_passage={tally['answer_in_passage'] / n:.3f} question_holds_answer="
        f"{tally['question_holds_answer']}",
        f"choice_answer_once={tally['choice_answer_once']}/{tally['choice']} "
        f"choice_no_variants={tally['choice_no_variants']}/{tally['choice']}",
        f"key_and_variants_accepted={tally['key_and_variants_accepted']}/{tally['graded']} "
        f"distractors_rejected={tally['distractors_rejected']}/{tally['distractors']}",
        f"build_ms p50={statistics.median(times):.0f} max={max(times):.0f}" if times else "build_ms -",
    ]
    return summary, {"tally": dict(tally), "build_ms": times, "items": kept}
