"""Coverage gaps: the questions the book could not answer (refused as not covered, or answered with a low share of
supported sentences), grouped by meaning with the question embeddings recorded at answer time (no model runs
here), each group with the book section nearest to it: the list of sections to write. And the same as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rag.report.shown import EXAMPLES, GROUP_SIMILARITY, OFF_TOPIC_SIMILARITY, Gap, Report

Nearest = Callable[[list[float]], "tuple[str, str] | None"]  # a vector -> (section, url) of the book


def group_questions(vectors: np.ndarray, threshold: float = GROUP_SIMILARITY) -> list[list[int]]:
    """Leader clustering: each question joins the group whose centre is closest, if close enough, else starts
    one. Groups come back largest first."""
    groups: list[list[int]] = []
    sums: list[np.ndarray] = []
    centres = np.zeros((0, vectors.shape[1]), dtype=np.float32) if len(vectors) else np.zeros((0, 0))
    for i, vector in enumerate(vectors):
        if len(groups):
            similarities = centres @ vector
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                groups[best].append(i)
                sums[best] = sums[best] + vector
                centres[best] = sums[best] / np.linalg.norm(sums[best])
                continue
        groups.append([i])
        sums.append(vector.copy())
        centres = np.vstack([centres, vector / (np.linalg.norm(vector) or 1.0)])
    return sorted(groups, key=len, reverse=True)


def gaps_of(rows: Sequence[Any], nearest: Nearest) -> list[Gap]:
    """The off-topic questions in one group, the rest (near the book, yet not answered well) grouped by meaning,
    each with the book section nearest to it."""
    off_topic: list[Any] = []
    near: list[Any] = []
    for row in rows:
        (off_topic if not row.covered and (row.similarity or 0.0) < OFF_TOPIC_SIMILARITY else near).append(row)
    rows = near
    found = []
    vectors = np.vstack([np.frombuffer(row.vector, dtype=np.float32) for row in rows]) if rows else np.zeros((0, 0))
    for members in group_questions(vectors):
        centre = vectors[members].mean(axis=0)
        where = nearest((centre / (np.linalg.norm(centre) or 1.0)).tolist())
        refused = sum(not rows[i].covered for i in members)
        examples = list(dict.fromkeys(rows[i].question for i in members))[:EXAMPLES]
        found.append(Gap(len(members), refused, len(members) - refused, examples, *(where or ("", ""))))
    if off_topic:
        examples = list(dict.fromkeys(r.question for r in off_topic))[:EXAMPLES]
        found.append(Gap(len(off_topic), len(off_topic), 0, examples, off_topic=True))
    return found


def gaps_csv(report: Report) -> str:
    """The coverage gaps as CSV: one row a group."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["questions", "refused", "low_grounding", "nearest_section", "url", "examples"])
    for gap in report.gaps:
        texts = [gap.section, gap.url, " | ".join(gap.examples)]
        writer.writerow([gap.count, gap.refused, gap.low_grounding, *map(_inert, texts)])
    return out.getvalue()


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula (= + - @, tab, CR) gets a leading `'`
    (OWASP's advice for CSV injection), since students write the questions."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
