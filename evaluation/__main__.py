"""The command line of `python -m evaluation` (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import get_args

import evaluation
from evaluation.answers import answers
from evaluation.grounding import grounding
from evaluation.hints import hints
from evaluation.quiz import quiz
from evaluation.reading import reading
from evaluation.retrieval import MODES, beir, questions
from ingest.pipeline import IngestOptions
from rag.config import load_settings
from rag.llm.providers import ProviderName
from rag.search.embeddings import Embedder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description=evaluation.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("beir", help="a BEIR benchmark folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    b.add_argument("--dir", type=Path, required=True, help="the BEIR dataset folder, e.g. ../shared/eval/scifact")
    q = sub.add_parser("questions", help="student questions (jsonl) over Docusaurus corpora")
    q.add_argument("--k", type=int, default=5, help="top-k passages per question (default: 5)")
    q.add_argument("--chunk-size", type=int, default=IngestOptions.chunk_size, help="as for python -m ingest")
    q.add_argument("--chunk-overlap", type=int, default=IngestOptions.chunk_overlap, help="as for python -m ingest")
    for p in (b, q):
        p.add_argument("--mode", choices=[*MODES, "all"], default="all", help="search mode (default: all)")
    g = sub.add_parser("grounding", help="labelled tutor answers (jsonl), checked sentence by sentence")
    g.add_argument("--file", type=Path, required=True, help="e.g. ../shared/eval/grounding-dev.jsonl")
    r = sub.add_parser("reading", help="the search with the page being read, on student questions (jsonl)")
    r.add_argument("--k", type=int, default=5, help="top-k passages per question (default: 5)")
    z = sub.add_parser("quiz", help="study mode's quizzes over a Docusaurus corpus, against its quality bars")
    z.add_argument("--corpus", action="append", required=True, metavar="NAME=FOLDER", help="e.g. A=../shared/...")
    z.add_argument("--sections", type=int, default=20, help="pages to quiz on, taken evenly (default: 20)")
    z.add_argument("--min-passages", type=int, default=2, help="pages with fewer passages are skipped (default: 2)")
    h = sub.add_parser("hints", help="hints mode's three steps on student questions (jsonl) over Docusaurus corpora")
    a = sub.add_parser("answers", help="the whole tutor on student questions (jsonl) over Docusaurus corpora")
    a.add_argument(
        "--provider",
        choices=list(get_args(ProviderName)),
        help="who answers (default: as configured, which is book excerpts without keys)",
    )
    for p in (q, r, h, a):
        p.add_argument("--file", type=Path, required=True, help="questions, e.g. ../shared/eval/textbook-dev.jsonl")
        p.add_argument(
            "--corpus",
            action="append",
            required=True,
            metavar="NAME=FOLDER",
            help="a corpus the questions name, e.g. A=../shared/corpus/physical-ai-textbook (repeatable)",
        )
    for p in (b, q, g, r, z, h, a):
        p.add_argument("--json", type=Path, help="write every number and every miss to this file")
        p.add_argument(
            "--workdir",
            type=Path,
            help="keep the ingested corpora here between runs (ingest is incremental: an unchanged corpus is not "
            "embedded again); default: a temporary folder",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    embedder = Embedder(settings.embedding_model, settings.model_cache_dir)
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        commands = {
            "beir": beir,
            "questions": questions,
            "grounding": grounding,
            "reading": reading,
            "quiz": quiz,
            "hints": hints,
            "answers": answers,
        }
        run = commands[args.command]
        summary, details = run(args, embedder, workdir)
    if args.json:
        args.json.write_text(json.dumps(details, indent=2))
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
