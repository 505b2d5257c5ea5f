"""Tokens per second of the bundled model (SmolLM2-135M on the installed llama-cpp-python build).

Starts the app's own server for it (`rag.llm.bundled`), then per run: a fresh prompt of about `--prompt-words`
words of the book asked for 1 token (prompt processing), and the same prompt streamed to `--max-tokens`
(generation: streamed chunks after the first, over the time after the first). Prints the build's CPU features
as llama.cpp reports them, so a before/after pair says which build it measured. A build that faults on this CPU
prints the crash instead of numbers. Needs only the standard library and llama-cpp-python: run it with any
venv's python that has them, e.g. one holding another build.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from rag.llm.bundled import LocalLLMServer

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "samples" / "textbook" / "docs"


def book_words(count: int, offset: int) -> str:
    words = " ".join(p.read_text() for p in sorted(PAGE.rglob("*.md"))).split()
    return " ".join(words[offset : offset + count])


def features() -> str:
    """The instruction sets the installed build uses, as llama.cpp lists them."""
    code = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    info = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    parts = (part.strip().rsplit(" ", 2) for part in info.replace(":", "|").split("|"))
    return " ".join(part[0] for part in parts if len(part) == 3 and part[1:] == ["=", "1"]) or info.strip()


def complete(base_url: str, model: str, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    """(seconds to the first chunk, seconds from the first chunk to the last, chunks after the first)."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    body |= {"stream": True, "temperature": 0}
    request = urllib.request.Request(
        f"{base_url}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    first = last = 0.0
    chunks = 0
    with urllib.request.urlopen(request, timeout=300) as response:
        for line in response:
            if not line.startswith(b"data: {"):
                continue
            delta = json.loads(line[6:])["choices"][0].get("delta", {}).get("content")
            if delta:
                last = time.perf_counter()
                first = first or last
                chunks += 1
    return first - started, last - first, max(chunks - 1, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompt-words", type=int, default=400)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    print(f"build: {features()}")
    server = LocalLLMServer("SmolLM2-135M-Instruct")
    base_url = server.start()
    prompt_rates, decode_rates = [], []
    try:
        for run in range(args.runs + 1):  # the first run warms up
            prompt = "Summarise this passage.\n\n" + book_words(args.prompt_words, run * args.prompt_words)
            to_first, decoding, tokens = complete(base_url, server.model_name, prompt, args.max_tokens)
            if run:
                prompt_rates.append(args.prompt_words * 1.3 / to_first)  # ~1.3 tokens a word
                decode_rates.append(tokens / decoding if decoding else 0.0)
    except OSError as exc:
        crash = server.crash()
        print(f"failed: {crash or exc}")
        sys.exit(1)
    finally:
        server.stop()
    print(f"prompt processing: median {statistics.median(prompt_rates):.0f} tokens/s (~1.3 tokens a word)")
    print(f"generation: median {statistics.median(decode_rates):.1f} tokens/s over {args.runs} runs")


if __name__ == "__main__":
    main()
