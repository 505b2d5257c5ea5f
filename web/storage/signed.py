"""The base of the element-file backends: URLs signed with the auth secret, like an S3 presigned URL.

The app serves a file only for a valid, unexpired signature, so nobody reads another user's files by guessing a
key. A backend stores and reads the bytes; signing is the same for all.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any
from urllib.parse import quote

from chainlit.data.storage_clients.base import BaseStorageClient

from rag.identity import mac, same

FILES_ROUTE = "/api/v1/files"
URL_LIFETIME = 7 * 24 * 3600  # a resumed chat's panels keep working for a week; a new resume signs anew


class SignedStorage(BaseStorageClient):
    def __init__(self, secret: str):
        self._secret = secret

    def sign(self, object_key: str, expires: int) -> str:
        return mac(self._secret, object_key, str(expires)).hex()

    def signed_url(self, object_key: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + URL_LIFETIME)
        return f"{FILES_ROUTE}/{quote(object_key)}?expires={expires}&signature={self.sign(object_key, expires)}"

    def verify(self, object_key: str, expires: int, signature: str) -> bool:
        return expires >= time.time() and same(signature, self.sign(object_key, expires))

    @abstractmethod
    async def read(self, object_key: str) -> tuple[bytes, str]:
        """(content, mime) of a stored file; FileNotFoundError if it is gone, ValueError for a bad key."""

    @abstractmethod
    async def write(self, object_key: str, content: bytes, mime: str, overwrite: bool) -> None: ...

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        await self.write(object_key, data.encode() if isinstance(data, str) else data, mime, overwrite)
        return {"object_key": object_key, "url": self.signed_url(object_key)}

    async def get_read_url(self, object_key: str) -> str:
        return self.signed_url(object_key)

    async def close(self) -> None:
        """Nothing to release: the database's engine belongs to the app."""
