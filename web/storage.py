"""Element files (the cited passages shown in side panels) in a local folder, read through signed URLs.

Chainlit persists an element's content through a storage client and drops the element without one, so after a
resume or a restart a citation would open nothing. `LocalStorage` keeps the files under DATA_DIR/files and hands
out URLs signed with the auth secret (like an S3 presigned URL): the app serves a file only for a valid,
unexpired signature, so nobody reads another user's files by guessing a path.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chainlit.data.storage_clients.base import BaseStorageClient

from rag.identity import mac

FILES_ROUTE = "/api/v1/files"
URL_LIFETIME = 7 * 24 * 3600  # a resumed chat's panels keep working for a week; a new resume signs anew
_MIME_SUFFIX = ".mime"


class LocalStorage(BaseStorageClient):
    def __init__(self, folder: Path, secret: str):
        self.folder = folder.resolve()
        self._secret = secret

    def path(self, object_key: str) -> Path:
        """The file of a key; a key that would leave the folder ("../") is refused."""
        path = (self.folder / object_key).resolve()
        if not path.is_relative_to(self.folder) or path == self.folder:
            raise ValueError(f"object key outside the storage folder: {object_key!r}")
        return path

    def sign(self, object_key: str, expires: int) -> str:
        return mac(self._secret, object_key, str(expires)).hex()

    def signed_url(self, object_key: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + URL_LIFETIME)
        return f"{FILES_ROUTE}/{quote(object_key)}?expires={expires}&signature={self.sign(object_key, expires)}"

    def verify(self, object_key: str, expires: int, signature: str) -> bool:
        return expires >= time.time() and hmac.compare_digest(signature, self.sign(object_key, expires))

    def read(self, object_key: str) -> tuple[bytes, str]:
        """(content, mime) of a stored file; FileNotFoundError if it is gone."""
        path = self.path(object_key)
        mime = path.with_name(path.name + _MIME_SUFFIX)
        return path.read_bytes(), mime.read_text() if mime.exists() else "application/octet-stream"

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        path = self.path(object_key)
        content = data.encode() if isinstance(data, str) else data

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not overwrite:
                return
            path.write_bytes(content)
            path.with_name(path.name + _MIME_SUFFIX).write_text(mime)

        await asyncio.to_thread(write)
        return {"object_key": object_key, "url": self.signed_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        path = self.path(object_key)
        existed = path.exists()
        path.unlink(missing_ok=True)
        path.with_name(path.name + _MIME_SUFFIX).unlink(missing_ok=True)
        return existed

    async def get_read_url(self, object_key: str) -> str:
        return self.signed_url(object_key)

    async def close(self) -> None:
        """Nothing to release."""
