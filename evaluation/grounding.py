"""The grounding checker on labelled answers (grounding-README.md): flagged, fixed and falsely flagged sentences."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

from evaluation.data import read_jsonl
from rag.answer.grounding import GroundingChecker
from rag.search.embeddings import Embedder


def grounding_scores(items: list[dict], checker: GroundingChecker) -> dict[str, float]:
    """Per label, the share of sentences the checker handled as the label asks (grounding-README.md)."""
    handled: Counter[str] = Counter()
    total: Counter[str] = Counter()
    times = []
    for item in items:
        started = time.perf_counter()
        result = checker.check(item["answer"], [p["text"] for p in item["passages"]])
        times.append((time.perf_counter() - started) * 1000)
        if len(result.sentences) != len(item["sentences"]):
            raise ValueError(
                f"{item['id']}: {len(result.sentences)} sentences found, {len(item['sentences'])} labelled"
            )
        for gold, got in zip(item["sentences"], result.sentences, strict=True):
            label, should = gold["label"], set(gold["should_cite"] or [])
            total[label] += 1
            if label in ("invented", "altered"):
                handled[label] += got.verdict == "unsupported"
            elif label in ("miscited", "uncited"):
                handled[label] += bool(set(got.cites) & should) and not (set(got.cites) & set(gold["cites"]) - should)
            elif label == "supported":
                handled["false_flag"] += got.verdict in ("unsupported", "recited")  # flagged or cited away

    def share(counted: str, label: str) -> float:
        return handled[counted] / total[label] if total[label] else 0.0

    return {
        "invented_flagged": share("invented", "invented"),
        "altered_flagged": share("altered", "altered"),
        "miscited_fixed": share("miscited", "miscited"),
        "uncited_attributed": share("uncited", "uncited"),
        "false_flags": share("false_flag", "supported"),
        "ms_per_answer": statistics.median(times) if times else 0.0,
    }


def grounding(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    items = read_jsonl(args.file)
    checker = GroundingChecker(embedder.embed_texts)
    checker.check(items[0]["answer"], [p["text"] for p in items[0]["passages"]])  # load the model before timing
    scores = grounding_scores(items, checker)
    line = "grounding " + " ".join(
        f"{k}={v:.1f}" if k == "ms_per_answer" else f"{k}={v:.2f}" for k, v in scores.items()
    )
    return [line], {"items": len(items), **scores}
