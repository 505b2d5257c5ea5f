"""The page being read (the book widget's `reading`): does the search prefer the page when it answers, and
leave the answer in place when it does not?

For each answerable question, over its corpus: the answering page is read (does it lead the passages, against
the search without a page?), then up to `OTHER_PAGES` other pages the book ranks for the question (in the top
30) are read, each in turn (is the labelled answer still among the top k, and does that page take the lead?).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

from evaluation.corpora import ingested
from evaluation.data import normalise_for_match, read_jsonl
from rag.config import load_settings
from rag.search.embeddings import Embedder
from rag.search.passage import Reading, SearchResult
from rag.search.retrieval import RERANK_POOL, Retriever

OTHER_PAGES = 6


@dataclass
class ReadingScore:
    questions: int = 0
    page_leads_unread: int = 0  # the answering page's passage leads without any page read
    page_leads_read: int = 0  # ... with the answering page read
    others: int = 0  # (question, other page) pairs
    answer_kept: int = 0  # the labelled answer is still in the top k with the other page read
    other_leads: int = 0  # the other page took the lead it did not have

    def lines(self, k: int) -> list[str]:
        return [
            f"answering page read: it leads {self.page_leads_read}/{self.questions} "
            f"(without a page: {self.page_leads_unread}/{self.questions})",
            f"another page read: the answer stays in the top {k} {self.answer_kept}/{self.others}, "
            f"that page takes the lead {self.other_leads}/{self.others}",
        ]


def _has_quote(result: SearchResult, quote: str) -> bool:
    wanted = normalise_for_match(quote)
    return any(wanted in normalise_for_match(p.text) for p in result.passages)


def reading(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    settings = load_settings()
    stores = ingested(args.corpus, embedder, workdir)
    retrievers = {name: Retriever(store, embedder, args.k, settings.score_threshold) for name, store in stores.items()}
    score = ReadingScore()
    for row in read_jsonl(args.file):
        if not row["answerable"] or row["corpus"] not in retrievers:
            continue
        search, expected = retrievers[row["corpus"]].search, row["file"].split("/", 1)[1]
        plain, pool = search(row["question"]), search(row["question"], k=RERANK_POOL).passages
        own = next((p.doc_id for p in pool if p.source_path == expected), None)
        if own is not None:
            score.questions += 1
            score.page_leads_unread += plain.passages[0].source_path == expected
            score.page_leads_read += search(row["question"], reading=Reading(own)).passages[0].source_path == expected
        for page in sorted({p.doc_id for p in pool if p.source_path != expected})[:OTHER_PAGES]:
            read = search(row["question"], reading=Reading(page))
            score.others += 1
            score.answer_kept += _has_quote(read, row["quote"]) or not _has_quote(plain, row["quote"])
            score.other_leads += read.passages[0].doc_id == page != plain.passages[0].doc_id
    for store in stores.values():
        store.close()
    return score.lines(args.k), {"k": args.k, **asdict(score)}
