"""Logging for the app and the commands: one format, and no credential in any line.

Libraries log URLs as they are (httpx logs every request's URL at INFO), and a URL may carry a password
(`http://user:secret@host/v1`) or a key in its query: `MaskCredentials` rewrites each record's message with
`mask_url` before any handler writes it.
"""

from __future__ import annotations

import logging
import re
from typing import TextIO

from rag.config import mask_url

_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)


class MaskCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _URL.sub(lambda m: mask_url(m.group(0)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(fmt: str, stream: TextIO | None = None) -> None:
    """`logging.basicConfig` at INFO, with every handler masking credentials."""
    logging.basicConfig(level=logging.INFO, format=fmt, stream=stream)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskCredentials())
