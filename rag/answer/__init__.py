"""Writing and checking an answer: its value types, the agent, the book-excerpts model, the grounding checker."""
