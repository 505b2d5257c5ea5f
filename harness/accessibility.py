"""axe-core (the npm package, installed from `harness/axe`'s lockfile by `make test`) run in a page the browser
tests have open: the violations a student with a screen reader, a keyboard or low vision would meet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path.home() / ".cache" / "textbook-tutor" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")


def violations(page: Any) -> list[str]:
    """The critical and serious violations on the page as it is now (open shadow roots included, the book's
    widget among them), each as `rule ×count: the first node's selector`."""
    if not AXE.exists():
        raise RuntimeError(f"axe-core is not installed at {AXE}: run `make test` (it installs it with npm).")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
    return [
        f"{v['id']} ×{len(v['nodes'])}: {v['nodes'][0]['target']} ({v['help']})"
        for v in found
        if v["impact"] in BLOCKING
    ]
