"""No log line carries a credential."""

from __future__ import annotations

import logging
import sys


def test_credentials_in_urls_never_reach_a_log_line(capsys):
    from rag.logs import MaskCredentials

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskCredentials())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    try:
        logger.warning('HTTP Request: POST %s "HTTP/1.1 200 OK"', "http://tutor:s3cret-pass@llm.local:8080/v1/chat")
        logger.warning("Calling https://api.example/v1?key=AIza-SECRET-KEY&alt=sse")
    finally:
        logger.removeHandler(handler)
    logged = capsys.readouterr().err
    assert "s3cret-pass" not in logged and "AIza-SECRET-KEY" not in logged
    assert "llm.local:8080/v1/chat" in logged and '"HTTP/1.1 200 OK"' in logged
