"""How answers, sources and errors read in the chat UI (pure text; `app.py` only wires it to Chainlit)."""

from __future__ import annotations

import re

from rag.retrieval import SearchResult
from rag.tutor import Answer, Source, TutorError

STARTERS = [
    ("ROS 2 topics", "What is a ROS 2 topic?"),
    ("Launch files", "How do I start several nodes at once with a launch file?"),
    ("Balance", "What is the zero moment point?"),
    ("Robot models", "How do I describe a robot's links and joints in URDF?"),
]

PROVIDER_LABELS = {"local": "Local model (offline)", "gemini": "Gemini", "openai": "OpenAI"}

EMPTY_COLLECTION = (
    "The textbook collection is empty, so there is nothing to answer from yet.\n\n"
    "Ingest a book first, then reload this page:\n\n"
    "```bash\npython -m ingest --source samples/textbook/docs   # or your book's docs folder\n```"
)

_WHAT_TO_DO = {
    "qdrant": "The textbook store is not available right now.",
    "llm": "The language model is not available right now.",
    "embeddings": "The embedding model could not be loaded.",
}


def _escape(text: str) -> str:
    """Markdown table/link syntax in titles must not break the line they sit in."""
    return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def search_step_output(result: SearchResult) -> str:
    if not result.passages:
        return "No passages found."
    lines = [f"{i}. {_escape(p.breadcrumb)} — similarity {p.similarity:.2f}" for i, p in enumerate(result.passages, 1)]
    if not result.covered:
        lines.append(f"\nBest similarity {result.best_similarity:.2f} is below the threshold: not covered.")
    return "\n".join(lines)


def source_panel(source: Source) -> str:
    """The side panel a citation marker opens: where the passage is, the passage itself, a link."""
    p = source.passage
    link = f"\n\n[Open this section in the book]({p.url})" if p.url else ""
    return f"**{_escape(p.title)}**\n\n_{_escape(p.breadcrumb)}_ · similarity {p.similarity:.2f}\n\n---\n\n{p.text}{link}"


def close_code_fences(text: str) -> str:
    """A model that stops inside a code block must not swallow the sources line below it."""
    fences = re.findall(r"^\s*(```|~~~)", text, re.MULTILINE)
    return text + f"\n{fences[-1]}" if len(fences) % 2 else text


def answer_markdown(answer: Answer) -> str:
    """The final message: the answer, then a compact line of its sources."""
    if not answer.covered:
        return f"> 📕 **Not covered by the textbook**\n>\n> {answer.text}"
    label = "Sources" if answer.cited else "Retrieved (not cited)"
    links = " · ".join(f"[{s.n}] [{_escape(s.passage.breadcrumb)}]({s.passage.url})" for s in answer.sources)
    return f"{close_code_fences(answer.text)}\n\n**{label}:** {links}\n\n_{answer.model} · {answer.processing_time_ms / 1000:.1f} s_"


def error_markdown(error: TutorError) -> str:
    return f"⚠️ **{_WHAT_TO_DO.get(error.kind, 'Something went wrong.')}**\n\n{error}\n\nYou can ask again once it is fixed."
