"""`python -m rag.eval`: quality through the project's own ingest, embeddings, store, search and tutor.

  beir       BEIR retrieval benchmark (e.g. SciFact): nDCG@10, recall@100, MRR@10 per mode (pytrec_eval).
  questions  Student-style questions over Docusaurus corpora: quote@k, file@k, MRR and "not covered" decisions.
  grounding  The grounding checker on labelled answers: flagged, fixed and falsely flagged sentences.
  answers    The whole tutor per question (retrieval, coverage, the default provider, the checker).

Each corpus goes into a temporary embedded collection; nothing touches the app's store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast, get_args

import pytrec_eval

from ingest.pipeline import IngestOptions, run_ingest
from rag.citations import MARKER
from rag.config import load_settings
from rag.database import Database
from rag.embeddings import Embedder
from rag.grounding import GroundingChecker
from rag.lexical import content_terms
from rag.providers import ProviderName
from rag.retrieval import Retriever, SearchResult
from rag.store import CollectionSpec, EdgeStore, SearchMode, StoredPoint
from rag.tutor import Tutor

MODES: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")
BEIR_BATCH = 256
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


def _modes(choice: str) -> tuple[SearchMode, ...]:
    return MODES if choice == "all" else (cast(SearchMode, choice),)


# -- BEIR -------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_beir(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {
        d["_id"]: normalise_beir_text(f"{d.get('title', '')}. {d.get('text', '')}".strip(". "))
        for d in _read_jsonl(folder / "corpus.jsonl")
    }
    queries = {q["_id"]: q["text"] for q in _read_jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels


def beir(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    corpus, queries, qrels = load_beir(args.dir)
    store = EdgeStore(workdir / "beir", "beir")
    store.ensure_collection(CollectionSpec(embedder.model_name, embedder.dim))
    ids = list(corpus)
    started = time.monotonic()
    for start in range(0, len(ids), BEIR_BATCH):
        batch = ids[start : start + BEIR_BATCH]
        embeddings = embedder.embed_passages([corpus[i] for i in batch])
        # The BEIR id rides in `source_path`, which every search result carries.
        store.upsert(
            [
                StoredPoint(str(uuid.uuid5(uuid.NAMESPACE_OID, f"beir:{i}")), e, {"source_path": i})
                for i, e in zip(batch, embeddings, strict=True)
            ]
        )
        print(f"\rembedded {min(start + BEIR_BATCH, len(ids))}/{len(ids)} documents", end="", file=sys.stderr)
    print(f"\ningested {len(ids)} documents in {time.monotonic() - started:.0f} s", file=sys.stderr)
    retriever = Retriever(store, embedder, top_k=100, threshold=0.0)
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    mrr_evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    summary, results = [], {}
    for mode in _modes(args.mode):
        # Scores by rank: trec_eval sorts by score, and RRF, cosine and BM25 scores are not comparable.
        run = {
            q: {
                p.source_path: float(100 - rank)
                for rank, p in enumerate(retriever.search(text, k=100, mode=mode).passages)
            }
            for q, text in queries.items()
        }
        top10 = {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:10]) for q, docs in run.items()}
        scores, mrr = evaluator.evaluate(run), mrr_evaluator.evaluate(top10)
        results[mode] = {
            "ndcg@10": _mean(scores, "ndcg_cut_10"),
            "recall@100": _mean(scores, "recall_100"),
            "mrr@10": _mean(mrr, "recip_rank"),
        }
        summary.append(f"{mode} " + " ".join(f"{k}={v:.3f}" for k, v in results[mode].items()))
    store.close()
    return summary, {"queries": len(queries), "documents": len(corpus), "modes": results}


def _mean(scores: dict[str, dict[str, float]], measure: str) -> float:
    return sum(s[measure] for s in scores.values()) / len(scores) if scores else 0.0


# -- textbook questions -------------------------------------------------------------------------------


@dataclass
class ModeScore:
    answerable: int = 0
    quote_hits: int = 0
    file_hits: int = 0
    reciprocal_ranks: float = 0.0
    unanswerable: int = 0
    rejected_unanswerable: int = 0
    rejected_answerable: int = 0
    rows: list[dict] = field(default_factory=list)

    def add(self, row: dict, result: SearchResult, k: int) -> None:
        """Score one question's search result and keep the details (the misses say what came back)."""
        covered = result.covered
        entry = {
            "id": row["id"],
            "corpus": row["corpus"],
            "answerable": row["answerable"],
            "covered": covered,
            "best_similarity": round(result.best_similarity, 3),
        }
        if not row["answerable"]:
            self.unanswerable += 1
            self.rejected_unanswerable += not covered
        else:
            quote = normalise_for_match(row["quote"])
            expected_file = row["file"].split("/", 1)[1]
            rank = next((i for i, p in enumerate(result.passages, 1) if quote in normalise_for_match(p.text)), None)
            self.answerable += 1
            self.rejected_answerable += not covered
            self.quote_hits += rank is not None
            self.file_hits += any(p.source_path == expected_file for p in result.passages)
            self.reciprocal_ranks += 1 / rank if rank else 0.0
            entry.update(quote_rank=rank, file_hit=any(p.source_path == expected_file for p in result.passages))
            if rank is None:
                entry.update(
                    question=row["question"],
                    expected=f"{expected_file} # {row['heading']}",
                    quote=row["quote"],
                    got=[f"{p.source_path} | {p.breadcrumb}" for p in result.passages],
                )
        self.rows.append(entry)

    def line(self, mode: str, k: int) -> str:
        n = max(self.answerable, 1)
        return (
            f"{mode} quote@{k}={self.quote_hits / n:.2f} file@{k}={self.file_hits / n:.2f} "
            f"mrr={self.reciprocal_ranks / n:.2f} rejected_unanswerable={self.rejected_unanswerable}/"
            f"{self.unanswerable} rejected_answerable={self.rejected_answerable}/{self.answerable}"
        )


def questions(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    settings = load_settings()
    rows = _read_jsonl(args.file)
    retrievers = {}
    for spec in args.corpus:
        name, folder = spec.split("=", 1)
        store = EdgeStore(workdir / f"corpus-{name}", "book")
        options = IngestOptions(Path(folder), chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
        print(f"corpus {name}: {run_ingest(options, store, embedder).summary()}", file=sys.stderr)
        retrievers[name] = Retriever(store, embedder, args.k, settings.score_threshold)
    scores = {mode: ModeScore() for mode in _modes(args.mode)}
    for row in rows:
        if row["corpus"] in retrievers:
            for mode, score in scores.items():
                score.add(row, retrievers[row["corpus"]].search(row["question"], k=args.k, mode=mode), args.k)
    print(f"{'id':<5} {'corpus':<6} {'mode':<7} {'answerable':<10} {'best_sim':>8} {'covered':<7} quote_rank file_hit")
    for mode, score in scores.items():
        for r in score.rows:
            print(
                f"{r['id']:<5} {r['corpus']:<6} {mode:<7} {str(r['answerable']):<10} {r['best_similarity']:>8.3f} "
                f"{str(r['covered']):<7} {str(r.get('quote_rank', '-')):<10} {r.get('file_hit', '-')}"
            )
    for retriever in retrievers.values():
        retriever.store.close()
    return [score.line(mode, args.k) for mode, score in scores.items()], {
        "k": args.k,
        "chunk_size": args.chunk_size,
        "chunk_overlap": args.chunk_overlap,
        "threshold": settings.score_threshold,
        "modes": {mode: asdict(score) for mode, score in scores.items()},
    }


# -- grounding -----------------------------------------------------------------------------------------


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
    items = _read_jsonl(args.file)
    checker = GroundingChecker(embedder.embed_texts)
    checker.check(items[0]["answer"], [p["text"] for p in items[0]["passages"]])  # load the model before timing
    scores = grounding_scores(items, checker)
    line = "grounding " + " ".join(
        f"{k}={v:.1f}" if k == "ms_per_answer" else f"{k}={v:.2f}" for k, v in scores.items()
    )
    return [line], {"items": len(items), **scores}


# -- answers --------------------------------------------------------------------------------------------

# A sentence counts toward "support" with this many content words, and is supported when this share of them
# is in one returned passage (the measure).
SUPPORT_MIN_WORDS = 4
SUPPORT_SHARE = 0.6


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
    settings = load_settings(data_dir=workdir / "data")
    rows = _read_jsonl(args.file)
    tutors = {}
    for spec in args.corpus:
        name, folder = spec.split("=", 1)
        store = EdgeStore(workdir / f"corpus-{name}", "book")
        print(f"corpus {name}: {run_ingest(IngestOptions(Path(folder)), store, embedder).summary()}", file=sys.stderr)
        tutors[name] = Tutor(settings, store, embedder, database=Database(settings, pooled=False))  # asyncio.run each
    details, times = [], []
    tally: Counter[str] = Counter()
    for row in rows:
        if row["corpus"] not in tutors:
            continue
        answer = asyncio.run(tutors[row["corpus"]].answer(row["question"], f"eval-{row['id']}", args.provider))
        times.append(answer.processing_time_ms)
        supported, counted = sentence_support([s.text for s in answer.sentences], [p.text for p in answer.passages])
        entry = {
            "id": row["id"],
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
            section = answer.cited and _answers_question(row, [s.passage for s in answer.sources])
            tally["section"] += section
            tally["supported"] += supported
            tally["counted"] += counted
            entry["section"] = section
        else:
            tally["unanswerable"] += 1
            tally["refused"] += not answer.covered
        details.append(entry)
        print(
            f"{row['id']:<5} {'covered' if answer.covered else 'refused':<8} {answer.processing_time_ms:>6} ms "
            f"{supported}/{counted} supported  {answer.coverage_reason}",
            file=sys.stderr,
        )
    for tutor in tutors.values():
        tutor.close()
    n = max(tally["answerable"], 1)
    line = (
        f"answers cited={tally['cited'] / n:.2f} section={tally['section'] / n:.2f} "
        f"support={tally['supported'] / max(tally['counted'], 1):.2f} "
        f"refused={tally['refused']}/{tally['unanswerable']} "
        f"wrongly_refused={tally['wrongly_refused']}/{tally['answerable']} "
        f"p50_ms={statistics.median(times) if times else 0:.0f}"
    )
    return [line], {"questions": details, **tally}


def _answers_question(row: dict, cited: list) -> bool:
    """A cited passage holds the answering quote, or is the answering section of the answering file."""
    quote, expected = normalise_for_match(row["quote"]), row["file"].split("/", 1)[1]
    heading = normalise_for_match(row.get("heading") or "")
    return any(
        quote in normalise_for_match(p.text)
        or (p.source_path == expected and heading and heading in normalise_for_match(p.breadcrumb))
        for p in cited
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rag.eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
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
    a = sub.add_parser("answers", help="the whole tutor on student questions (jsonl) over Docusaurus corpora")
    a.add_argument(
        "--provider",
        choices=list(get_args(ProviderName)),
        help="who answers (default: as configured, which is book excerpts without keys)",
    )
    for p in (q, a):
        p.add_argument("--file", type=Path, required=True, help="questions, e.g. ../shared/eval/textbook-dev.jsonl")
        p.add_argument(
            "--corpus",
            action="append",
            required=True,
            metavar="NAME=FOLDER",
            help="a corpus the questions name, e.g. A=../shared/corpus/physical-ai-textbook (repeatable)",
        )
    for p in (b, q, g, a):
        p.add_argument("--json", type=Path, help="write every number and every miss to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    embedder = Embedder(settings.embedding_model, settings.model_cache_dir)
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as workdir:
        run = {"beir": beir, "questions": questions, "grounding": grounding, "answers": answers}[args.command]
        summary, details = run(args, embedder, Path(workdir))
    if args.json:
        args.json.write_text(json.dumps(details, indent=2))
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
