"""The tracked source must not contain credentials."""

import re
import subprocess

from tests.conftest import REPO

PATTERNS = {
    "OpenAI-style key": re.compile(r"sk-(?:proj-)?[A-Za-z0-9_-]{20,}"),
    "AWS access key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "Google API key": re.compile(r"AIza[0-9A-Za-z_-]{35}"),
    "key assigned a literal": re.compile(
        r"""(?i)\b(?:api_?key|secret|token|password)\s*[:=]\s*["'][A-Za-z0-9_\-]{16,}["']"""
    ),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


def test_tracked_files_hold_no_secrets():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    findings = []
    for name in files:
        path = REPO / name
        if not path.is_file() or path.suffix in {".png", ".ico", ".jpg", ".svg"}:
            continue
        text = path.read_text(errors="ignore")
        for label, pattern in PATTERNS.items():
            findings += [f"{name}: {label}: {m.group(0)[:12]}…" for m in pattern.finditer(text)]
    assert not findings, "\n".join(findings)


def test_the_scanner_catches_a_planted_key():
    planted = 'api_key = "' + "x" * 24 + '"'
    assert PATTERNS["key assigned a literal"].search(planted)
    assert PATTERNS["OpenAI-style key"].search("sk-" + "a1" * 12)
