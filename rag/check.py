"""`python -m rag.check`: the effective configuration and one OK/FAIL line per dependency.

Exit 0 only when everything needed to answer works; each FAIL line says the fix.
"""

from __future__ import annotations

import argparse
import sys
from typing import get_args

from rag.config import ConfigError, load_settings
from rag.health import run_checks
from rag.llm.providers import ProviderName


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.check", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--provider",
        choices=get_args(ProviderName),
        help="check this answer mode instead of the configured one (LLM_PROVIDER)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print("Configuration")
    for name, value in settings.summary().items():
        print(f"  {name} = {value}")
    print("\nChecks")
    checks = run_checks(settings, args.provider)
    for check in checks:
        print("  " + check.line())
    return 1 if any(c.status == "FAIL" for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
