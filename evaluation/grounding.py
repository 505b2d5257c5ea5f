"""The grounding checker on labelled answers (grounding-README.md): flagged, fixed and falsely flagged sentences."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from evaluation.data import read_jsonl
from rag.answer.grounding import CheckedSentence, GroundingChecker
from rag.search.embeddings import Embedder
from rag.text.citations import MARKER
from rag.text.lexical import words


def align(labelled: list[str], checked: list[str]) -> list[int | None]:
    """For each labelled sentence, the index of the checked sentence that holds most of its words (None if
    none holds half). Both lists are in answer order, so the search starts where the previous one matched:
    a pair the checker merged maps to one index, a sentence it split maps to the part holding most."""
    found: list[int | None] = []
    start = 0
    bags = [Counter(words(MARKER.sub(" ", text))) for text in checked]
    for text in labelled:
        wanted = Counter(words(MARKER.sub(" ", text)))
        size = sum(wanted.values()) or 1
        shares = [(sum((wanted & bags[j]).values()) / size, j) for j in range(start, len(bags))]
        share, best = max(shares, key=lambda sj: (sj[0], -sj[1]), default=(0.0, None))
        if best is None or share < 0.5:
            found.append(None)
            continue
        found.append(best)
        start = best
    return found


def _handled(gold: dict, got: CheckedSentence | None) -> bool:
    """Whether the checker did with a sentence what its label asks (grounding-README.md)."""
    label, should = gold["label"], set(gold["should_cite"] or [])
    if got is None:  # a labelled sentence the checker did not see as a unit
        return label == "supported"
    if label in ("invented", "altered"):
        return got.verdict == "unsupported"
    if label in ("miscited", "uncited"):
        return bool(set(got.cites) & should) and not (set(got.cites) & set(gold["cites"]) - should)
    return got.verdict not in ("unsupported", "recited")  # supported: neither flagged nor cited away


def grounding_scores(items: list[dict], checker: GroundingChecker) -> dict[str, float]:
    """Per label, the share of sentences the checker handled as the label asks, each labelled sentence scored
    on the checked sentence that holds it; and how many labelled sentences shared a checked one."""
    handled: Counter[str] = Counter()
    total: Counter[str] = Counter()
    passed: Counter[str] = Counter()  # per label, sentences judged supported
    flags: Counter[bool] = Counter()  # flagged sentences, by whether their label is a wrong one
    times = []
    merged = 0
    for item in items:
        started = time.perf_counter()
        result = checker.check(item["answer"], [p["text"] for p in item["passages"]])
        times.append((time.perf_counter() - started) * 1000)
        where = align([s["text"] for s in item["sentences"]], [s.text for s in result.sentences])
        held = Counter(j for j in where if j is not None)
        merged += sum(n for n in held.values() if n > 1)
        for gold, j in zip(item["sentences"], where, strict=True):
            got = None if j is None else result.sentences[j]
            total[gold["label"]] += 1
            handled[gold["label"]] += _handled(gold, got)
            passed[gold["label"]] += got is not None and bool(got.supported)
            if got is not None and got.flagged:
                flags[gold["label"] in ("invented", "altered")] += 1

    def share(label: str, flip: bool = False) -> float:
        if not total[label]:
            return 0.0
        return 1 - handled[label] / total[label] if flip else handled[label] / total[label]

    return {
        "invented_flagged": share("invented"),
        "altered_flagged": share("altered"),
        "miscited_fixed": share("miscited"),
        "uncited_attributed": share("uncited"),
        "false_flags": share("supported", flip=True),
        "flag_precision": flags[True] / (flags[True] + flags[False]) if flags else 1.0,
        "invented_supported": passed["invented"] / total["invented"] if total["invented"] else 0.0,
        "altered_supported": passed["altered"] / total["altered"] if total["altered"] else 0.0,
        "merged": float(merged),
        "ms_per_answer": statistics.median(times) if times else 0.0,
    }


def grounding(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    """The scores per book (an answer's `corpus`), then over all: a figure pooled over books hides the book
    the checker does worst on."""
    items = read_jsonl(args.file)
    embedder.embed_texts(["load the model before timing"])
    books: dict[str, list[dict]] = {}
    for item in items:
        books.setdefault(item.get("corpus", "-"), []).append(item)
    groups = {**books, "all": items} if len(books) > 1 else {"all": items}
    # a checker per group: each starts without the passages an earlier group prepared, as its timing must
    scores = {book: grounding_scores(group, GroundingChecker(embedder.embed_texts)) for book, group in groups.items()}
    lines = [f"grounding {book} answers={len(groups[book])} " + _shown(s) for book, s in scores.items()]
    return lines, {"items": len(items), **scores["all"], "books": scores}


def _shown(scores: dict[str, float]) -> str:
    return " ".join(
        f"{k}={v:.1f}" if k == "ms_per_answer" else f"{k}={v:.0f}" if k == "merged" else f"{k}={v:.2f}"
        for k, v in scores.items()
    )
