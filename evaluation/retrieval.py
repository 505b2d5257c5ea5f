"""Retrieval quality: the BEIR benchmark, and student questions over Docusaurus corpora."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import pytrec_eval

from evaluation.corpora import ingested
from evaluation.data import load_beir, normalise_for_match, read_jsonl
from rag.config import load_settings
from rag.search.embeddings import Embedder
from rag.search.passage import SearchResult
from rag.search.retrieval import Retriever
from rag.store import CollectionSpec, EdgeStore, SearchMode, StoredPoint

MODES: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")
BEIR_BATCH = 256


def _modes(choice: str) -> tuple[SearchMode, ...]:
    return MODES if choice == "all" else (cast(SearchMode, choice),)


# -- BEIR -------------------------------------------------------------------------------------------


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
    """Per search mode and per book (never only pooled): quote@k, file@k, MRR and the coverage decisions."""
    settings = load_settings()
    rows = read_jsonl(args.file)
    stores = ingested(args.corpus, embedder, workdir, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
    retrievers = {name: Retriever(store, embedder, args.k, settings.score_threshold) for name, store in stores.items()}
    scores = {(mode, name): ModeScore() for mode in _modes(args.mode) for name in retrievers}
    for row in rows:
        if row["corpus"] in retrievers:
            for mode in _modes(args.mode):
                result = retrievers[row["corpus"]].search(row["question"], k=args.k, mode=mode)
                scores[mode, row["corpus"]].add(row, result, args.k)
    print(f"{'id':<5} {'corpus':<6} {'mode':<7} {'answerable':<10} {'best_sim':>8} {'covered':<7} quote_rank file_hit")
    for (mode, _), score in scores.items():
        for r in score.rows:
            print(
                f"{r['id']:<5} {r['corpus']:<6} {mode:<7} {str(r['answerable']):<10} {r['best_similarity']:>8.3f} "
                f"{str(r['covered']):<7} {str(r.get('quote_rank', '-')):<10} {r.get('file_hit', '-')}"
            )
    for retriever in retrievers.values():
        retriever.store.close()
    return [score.line(f"{mode} {name}", args.k) for (mode, name), score in scores.items()], {
        "k": args.k,
        "chunk_size": args.chunk_size,
        "chunk_overlap": args.chunk_overlap,
        "threshold": settings.score_threshold,
        "modes": {f"{mode} {name}": asdict(score) for (mode, name), score in scores.items()},
    }
