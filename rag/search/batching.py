"""Query embeddings of concurrent requests, batched into one ONNX call.

A class asking at once would otherwise make one model call per question, each for one short text; one call for
all of them costs a fraction of that CPU. A question waits at most `window` seconds for others to join it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rag.store.vectors import Embedding

WINDOW = 0.002  # seconds; far below an answer's time, and enough for requests arriving together
MAX_BATCH = 64


class QueryBatcher:
    def __init__(
        self, embed: Callable[[list[str]], list[Embedding]], window: float = WINDOW, max_batch: int = MAX_BATCH
    ):
        self._embed, self.window, self.max_batch = embed, window, max_batch
        self._pending: list[tuple[str, asyncio.Future[Embedding]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()  # batches in flight (the loop keeps only weak references)

    async def embed(self, texts: list[str]) -> list[Embedding]:
        """The texts' embeddings, computed together with those of the questions asked at the same moment."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        self._pending += zip(texts, futures, strict=True)
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self._flush)
        return list(await asyncio.gather(*futures))

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[str, asyncio.Future[Embedding]]]) -> None:
        try:
            embeddings = await asyncio.to_thread(self._embed, [text for text, _ in batch])
        except Exception as exc:  # every question of the batch gets the error (an EmbeddingError says the fix)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), embedding in zip(batch, embeddings, strict=True):
            if not future.done():  # a question cancelled meanwhile (the student pressed stop)
                future.set_result(embedding)
