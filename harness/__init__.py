"""What the tests and the benchmarks share: the app as a child process, local servers that answer like the
paid remote services (OpenAI/Gemini, Qdrant Cloud), and a PostgreSQL server of its own."""


class Missing(RuntimeError):
    """A program the harness starts (Chromium, PostgreSQL, nginx, Redis, Node.js, libfaketime) is not installed;
    the message says how to install it. The tests skip with it; a benchmark stops with it."""
