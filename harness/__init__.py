"""What the tests and the benchmarks share: the app as a child process, local servers that answer like the
paid remote services (OpenAI/Gemini, Qdrant Cloud), and a PostgreSQL server of its own."""
