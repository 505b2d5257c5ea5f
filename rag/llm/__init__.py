"""Who writes an answer: the providers as records, and the bundled model server."""
