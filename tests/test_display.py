from rag.display import answer_markdown, close_code_fences
from rag.retrieval import Passage
from rag.tutor import Answer, Source

PASSAGE = Passage("id", "text", "URDF", "URDF › Links", "Links", "https://b/docs/urdf#links", "u.md", 0.03, 0.61)


def test_unclosed_code_block_is_closed_before_the_sources():
    text = "Use this:\n```xml\n<robot name=\"arm\">"
    assert close_code_fences(text).endswith("\n```")
    assert close_code_fences("```\ncode\n```\nDone.") == "```\ncode\n```\nDone."
    shown = answer_markdown(Answer(text, [Source(1, PASSAGE)], False, [PASSAGE], True, 5, "local: m", "q"))
    head, sources = shown.split("**Retrieved (not cited):**")
    assert head.count("```") % 2 == 0 and "[1] [URDF › Links](https://b/docs/urdf#links)" in sources


def test_not_covered_has_no_sources():
    shown = answer_markdown(Answer("The textbook does not cover this.", [], False, [], False, 5, "none", "q"))
    assert "Not covered by the textbook" in shown and "Sources" not in shown
