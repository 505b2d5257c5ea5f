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
            total[gold["label"]] += 1
            handled[gold["label"]] += _handled(gold, None if j is None else result.sentences[j])

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
        "merged": float(merged),
        "ms_per_answer": statistics.median(times) if times else 0.0,
    }


def grounding(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    items = read_jsonl(args.file)
    checker = GroundingChecker(embedder.embed_texts)
    checker.check(items[0]["answer"], [p["text"] for p in items[0]["passages"]])  # load the model before timing
    scores = grounding_scores(items, checker)
    line = "grounding " + " ".join(
        f"{k}={v:.1f}" if k == "ms_per_answer" else f"{k}={v:.0f}" if k == "merged" else f"{k}={v:.2f}"
        for k, v in scores.items()
    )
    return [line], {"items": len(items), **scores}
