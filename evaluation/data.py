"""Reading the evaluation files, and the text normalisation the measures compare with."""

from __future__ import annotations

import json
import re
from pathlib import Path

# BEIR SciFact in ../shared joins sentences without a space: "disabilities.A line".
_JOINED_SENTENCE = re.compile(r"(?<=[a-z0-9)\]%][.!?])(?=[A-Z])")
_MARKUP = re.compile(r"[*_`#>|]")
# List bullets wherever they stand: a quote may flatten a list onto one line ("a - b - c").
_BULLET = re.compile(r"(?:^|(?<=\s))(?:[-+•]|\d+\.)(?=\s)", re.MULTILINE)


def normalise_beir_text(text: str) -> str:
    return _JOINED_SENTENCE.sub(" ", text)


def normalise_for_match(text: str) -> str:
    """Case, whitespace and markdown markup (`*`, `_`, backticks, bullets, `#`) do not decide a match."""
    return " ".join(_BULLET.sub(" ", _MARKUP.sub("", text)).lower().split())


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_beir(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {
        d["_id"]: normalise_beir_text(f"{d.get('title', '')}. {d.get('text', '')}".strip(". "))
        for d in read_jsonl(folder / "corpus.jsonl")
    }
    queries = {q["_id"]: q["text"] for q in read_jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels
