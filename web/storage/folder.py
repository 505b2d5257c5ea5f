"""Element files in a local folder (DATA_DIR/files): zero config, served by the host that wrote them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rag.config import write_private
from web.storage.signed import SignedStorage

_MIME_SUFFIX = ".mime"


class FolderStorage(SignedStorage):
    def __init__(self, folder: Path, secret: str):
        super().__init__(secret)
        self.folder = folder.resolve()

    def path(self, object_key: str) -> Path:
        """The file of a key; a key that would leave the folder ("../") is refused."""
        path = (self.folder / object_key).resolve()
        if not path.is_relative_to(self.folder) or path == self.folder:
            raise ValueError(f"object key outside the storage folder: {object_key!r}")
        return path

    def _read(self, object_key: str) -> tuple[bytes, str]:
        path = self.path(object_key)
        mime = path.with_name(path.name + _MIME_SUFFIX)
        return path.read_bytes(), mime.read_text() if mime.exists() else "application/octet-stream"

    async def read(self, object_key: str) -> tuple[bytes, str]:
        return await asyncio.to_thread(self._read, object_key)

    async def write(self, object_key: str, content: bytes, mime: str, overwrite: bool) -> None:
        path = self.path(object_key)

        def write() -> None:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for folder in reversed([path.parent, *path.parent.parents]):  # `parents=True` gives them no mode
                if folder.is_relative_to(self.folder):
                    folder.mkdir(mode=0o700, exist_ok=True)
            if path.exists() and not overwrite:
                return
            write_private(path, content)
            write_private(path.with_name(path.name + _MIME_SUFFIX), mime.encode())

        await asyncio.to_thread(write)

    async def delete_file(self, object_key: str) -> bool:
        path = self.path(object_key)
        existed = path.exists()
        path.unlink(missing_ok=True)
        path.with_name(path.name + _MIME_SUFFIX).unlink(missing_ok=True)
        return existed
