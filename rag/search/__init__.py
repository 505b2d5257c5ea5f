"""Finding the passages for a question: embeddings, hybrid retrieval, and whether the book covers it."""
