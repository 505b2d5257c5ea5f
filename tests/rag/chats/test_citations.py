"""An answer's citation after the book changed: a passage's id follows its content, so the old `[1]` never opens
other text; it opens the passage as the answer cited it, marked as changed, with the section's link."""

from __future__ import annotations

import asyncio
import shutil

from ingest.pipeline import IngestOptions, run_ingest
from rag.config import load_settings
from rag.store import EdgeStore
from tests.api_client import api_client
from tests.conftest import SAMPLE_DOCS, build_engine

PAGE = "04-humanoid-control/02-balance-and-walking.md"
OLD = "The **zero moment point** (ZMP) is the"
NEW = "The **zero moment point** (ZMP), the point where the ground's push has no tipping moment, is the"


def test_a_citation_opens_its_passage_as_it_was_after_the_page_changed(tmp_path, embedder, env):
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    store = EdgeStore(tmp_path / "qdrant", "book")
    run_ingest(IngestOptions(docs), store, embedder)
    env(DATA_DIR=str(tmp_path / "data"))
    engine = build_engine(store, embedder, settings=load_settings())
    answer = asyncio.run(engine.answers.answer("What is the zero moment point?", "c1"))
    cited = next(s.passage for s in answer.sources if OLD in s.passage.text)
    kept = [p["id"] for p in store.scroll(["text", "source_path"]) if p["source_path"] == PAGE and OLD not in p["text"]]

    page = docs / PAGE
    text = page.read_text().replace(OLD, NEW)
    first = text.index("\n## ")
    page.write_text(text[:first] + "\n## Before you start\n\nCharge the battery.\n" + text[first:])
    run_ingest(IngestOptions(docs), store, embedder)  # a section added at the top, the cited passage edited

    client = api_client(lambda: engine)
    old = client.get(f"/api/v1/passages/{cited.id}").json()
    assert old["current"] is False and old["text"] == cited.text and OLD in old["text"]  # as it was, not other text
    assert old["link"] and old["link"].startswith(cited.url.split("#")[0])  # the section, to read it as it is now
    now = engine.retriever.search("What is the zero moment point?").passages
    edited = next(p for p in now if NEW in p.text)
    assert edited.id != cited.id and client.get(f"/api/v1/passages/{edited.id}").json()["current"] is True
    assert kept and set(store.get(kept)) == set(kept)  # the page's passages the edit left alone keep their ids
    store.close()
