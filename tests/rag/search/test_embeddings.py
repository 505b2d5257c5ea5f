"""The packaged embedding models, loaded offline (HF_HUB_OFFLINE=1 is set for every test)."""

import asyncio
import os
import subprocess
import sys

import numpy as np

from rag.search.batching import QueryBatcher
from rag.search.embeddings import Embedder, EmbeddingError
from rag.store.vectors import Embedding
from tests.conftest import REPO


def test_dense_vectors_are_384d_unit_norm(embedder: Embedder):
    assert embedder.dim == 384
    (passage,) = embedder.embed_passages(["A ROS 2 node is a process that performs computation."])
    query = embedder.embed_query("What is a node?")
    for vector in (passage.dense, query.dense):
        assert len(vector) == 384
        assert abs(np.linalg.norm(vector) - 1) < 1e-3


def test_question_is_closer_to_its_answer(embedder: Embedder):
    query = np.array(embedder.embed_query("How do nodes exchange messages in ROS 2?").dense)
    answer, unrelated = (
        np.array(e.dense)
        for e in embedder.embed_passages(
            [
                "Nodes communicate by publishing messages to topics that other nodes subscribe to.",
                "Sourdough bread needs a long, slow fermentation of the dough.",
            ]
        )
    )
    assert query @ answer > query @ unrelated + 0.2


def test_bm25_drops_stopwords_and_keeps_terms(embedder: Embedder):
    assert embedder.embed_query("the of and is it").sparse.indices == []
    with_stopwords = embedder.embed_query("what is the robot doing").sparse
    plain = embedder.embed_query("robot doing").sparse
    assert with_stopwords.indices and sorted(with_stopwords.indices) == sorted(plain.indices)
    (doc,) = embedder.embed_passages(["The robot publishes odometry on a topic."])
    assert len(doc.sparse.indices) == len(doc.sparse.values) > 0


def test_token_count_uses_the_model_tokenizer(embedder: Embedder):
    assert embedder.count_tokens("ros2 launch") >= 3  # word pieces, not words
    assert embedder.count_tokens("") == 0


def test_loads_in_a_fresh_cache_without_network(tmp_path):
    """A new machine: an empty cache folder, the hub unreachable; the packaged files suffice."""
    script = (
        "from pathlib import Path; from rag.search.embeddings import Embedder; "
        f"print(Embedder(cache_dir=Path({str(tmp_path)!r})).dim)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "384", out.stderr
    assert (tmp_path / "all-MiniLM-L6-v2-int8-v2" / "model.onnx").exists()


def test_long_text_is_cut_at_the_models_256_tokens(embedder: Embedder):
    text = " ".join(f"joint{i} torque" for i in range(200))  # well over 256 word pieces
    assert embedder.count_tokens(text) > 300
    full, longer = embedder.embed_passages([text, text + " gazebo simulation lidar camera" * 50])
    assert np.dot(full.dense, longer.dense) > 0.999


def test_questions_asked_together_are_embedded_in_one_call(embedder: Embedder):
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[Embedding]:
        calls.append(texts)
        return embedder.embed_queries(texts)

    questions = [f"What does a ROS 2 node number {n} publish?" for n in range(12)]

    async def ask_together() -> list[list[Embedding]]:
        batcher = QueryBatcher(embed)
        return await asyncio.gather(*(batcher.embed([q]) for q in questions))

    together = asyncio.run(ask_together())
    assert calls == [questions]
    for (got,), question in zip(together, questions, strict=True):
        alone = embedder.embed_query(question)
        assert np.allclose(got.dense, alone.dense, atol=1e-5) and got.sparse == alone.sparse


def test_a_failed_batch_fails_each_question_and_a_cancelled_one_spares_the_rest(embedder: Embedder):
    def broken(texts: list[str]) -> list[Embedding]:
        raise EmbeddingError("the model is gone")

    async def scenario() -> tuple[tuple[BaseException | list[Embedding], ...], list[Embedding]]:
        failing = QueryBatcher(broken)
        failed = await asyncio.gather(failing.embed(["a"]), failing.embed(["b"]), return_exceptions=True)
        working = QueryBatcher(embedder.embed_queries, window=0.05)
        cancelled = asyncio.ensure_future(working.embed(["What is a topic?"]))
        kept = asyncio.ensure_future(working.embed(["What is a service?"]))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        return failed, await kept

    failed, kept = asyncio.run(scenario())
    assert all(isinstance(f, EmbeddingError) for f in failed) and len(kept) == 1
