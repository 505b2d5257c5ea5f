"""`python -m rag.check` says what is wrong without saying a secret."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_check_masks_the_cluster_password(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "QDRANT_API_KEY": "k" * 20,
        "QDRANT_CLUSTER_ENDPOINT": "http://user:s3cretPW@127.0.0.1:9",
        "QDRANT_TIMEOUT": "1",
    }
    out = subprocess.run([sys.executable, "-m", "rag.check"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "s3cretPW" not in out.stdout + out.stderr and "user:****@127.0.0.1:9" in out.stdout
