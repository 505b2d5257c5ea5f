from rag.answer.result import Answer, Source
from rag.search.passage import Passage
from web.display import answer_markdown, close_code_fences, error_markdown, relinked
from web.rendering import to_html

CITE_1 = "[\\[1\\]](#tutor-passage=id)"  # [1] on the chat page: a link its panel opens
PASSAGE = Passage("id", "text", "URDF", "URDF › Links", "Links", "https://b/docs/urdf#links", "u.md", 0.03, 0.61)


def answer(text: str, cited: bool = True, covered: bool = True, sentences=()) -> Answer:
    sources = [Source(1, PASSAGE)] if covered else []
    return Answer(
        text=text,
        sources=sources,
        cited=cited,
        passages=[PASSAGE] if covered else [],
        covered=covered,
        processing_time_ms=5,
        model="local: m",
        query="q",
        sentences=list(sentences),
    )


def test_unclosed_code_block_is_closed_before_the_sources():
    text = 'Use this:\n```xml\n<robot name="arm">'
    assert close_code_fences(text).endswith("\n```")
    assert close_code_fences("```\ncode\n```\nDone.") == "```\ncode\n```\nDone."
    shown = answer_markdown(answer(text, cited=False))
    head, sources = shown.split("**Retrieved (not cited):**")
    assert head.count("```") % 2 == 0 and f"{CITE_1} [URDF › Links](https://b/docs/urdf?tutor-cite=id#links)" in sources


def test_an_answer_the_history_could_not_keep_says_so():
    from dataclasses import replace

    why = "The chat history database (postgresql://tutor@db/tutor) is unavailable. Check DATABASE_URL."
    shown = answer_markdown(replace(answer("Links are rigid bodies [1]."), not_kept=why))
    assert shown.endswith(f"> ⚠️ **Not saved in this chat's history**: {why}")
    assert "Not saved" not in answer_markdown(answer("Links are rigid bodies [1]."))


def test_not_covered_has_no_sources():
    shown = answer_markdown(answer("The textbook does not cover this.", cited=False, covered=False))
    assert "Not covered by the textbook" in shown and "Sources" not in shown


def test_unsupported_sentences_are_greyed_and_explained():
    from rag.answer.grounding import CheckedSentence
    from web.display import LEGEND, UNSUPPORTED_ANCHOR

    text = "Nodes are processes [1]. Nodes run in the cloud [1].\n\n- Topics [carry] data."
    sentences = [
        CheckedSentence("Nodes are processes [1].", [1], "supported", 1.0),
        CheckedSentence("Nodes run in the cloud [1].", [1], "unsupported", 0.2, "not in the passage"),
        CheckedSentence("- Topics [carry] data.", [], "unsupported", 0.1),
    ]
    shown = answer_markdown(answer(text, sentences=sentences))
    assert f"Nodes are processes {CITE_1}. [Nodes run in the cloud.]({UNSUPPORTED_ANCHOR}) ⚠{CITE_1}" in shown
    assert f"- [Topics \\[carry\\] data.]({UNSUPPORTED_ANCHOR}) ⚠" in shown  # the bullet stays outside
    assert shown.count(LEGEND) == 1


def test_sentences_not_verified_are_lightly_marked_with_their_own_legend():
    from rag.answer.grounding import CheckedSentence
    from web.display import LEGEND, UNVERIFIED_ANCHOR, UNVERIFIED_LEGEND

    text = "Nodes are processes [1]. Each node does one small job [1]."
    sentences = [
        CheckedSentence("Nodes are processes [1].", [1], "supported", 1.0),
        CheckedSentence("Each node does one small job [1].", [1], "unverified", 0.5, "a paraphrase"),
    ]
    shown = answer_markdown(answer(text, sentences=sentences))
    assert f"[Each node does one small job.]({UNVERIFIED_ANCHOR}) ≈{CITE_1}" in shown
    assert UNVERIFIED_LEGEND in shown and LEGEND not in shown


def test_no_legend_when_everything_is_supported():
    from web.display import LEGEND

    shown = answer_markdown(answer("Fine [1]."))
    assert LEGEND not in shown and "#not-in-book" not in shown


def test_an_unreachable_rate_limit_store_is_said_in_the_chat():
    from web.ratelimit import RateLimitStoreError

    shown = error_markdown(RateLimitStoreError("Redis at redis://r:6379/0 is unavailable. Check REDIS_URL."))
    assert "rate-limit store is not available" in shown and "REDIS_URL" in shown


def test_an_answer_of_the_chat_page_links_its_citations_into_the_book():
    shown = answer_markdown(answer("Links connect joints [1].", cited=True))
    assert "Links connect joints [\\[1\\]](#tutor-passage=id)." in shown  # the chat page's panel
    linked = relinked(shown)
    assert "Links connect joints [\\[1\\]](https://b/docs/urdf?tutor-cite=id#links)." in linked
    assert "**Sources:** [\\[1\\]](https://b/docs/urdf?tutor-cite=id#links) [URDF › Links]" in linked
    assert relinked(linked) == linked  # opened in the widget twice, the same
    assert relinked("No sources here [1].") == "No sources here [1]."


def test_no_server_path_reaches_a_response_or_the_chat():
    """A path on the server, alone or as a URL with no host (the SQLite database), never reaches a visitor; a
    URL with a host and a path on the student's machine (`~/`) do."""
    from rag.errors import ServiceError
    from web.rest import public

    down = (
        "The chat history database (sqlite+aiosqlite:////srv/tutor/data/tutor.db) is unavailable: "
        "OperationalError('unable to open database file /srv/tutor/data/tutor.db'). Check DATABASE_URL."
    )
    assert "/srv/" not in public(down) and "DATABASE_URL" in public(down)
    assert "/srv/" not in public("sqlite+aiosqlite:///srv/tutor/data/tutor.db") and "/srv/" not in public(
        "file:///srv/a/b"
    )
    kept = "See https://docs.example/a/b, redis://cache:6379/0 and ~/ros2_ws/src."
    assert public(kept) == kept
    error = ServiceError(down)
    error.kind = "database"
    assert "/srv/" not in error_markdown(error)


def test_unsafe_urls_already_stored_are_not_written_as_links():
    evil = Passage("i", "t", "T", "T › S", "S", "javascript:alert(1)", "p.md", 0.1, 0.5)
    spaced = Passage("j", "t", "T", "T [x]", "S", "/docs/a b) [PWN](javascript:x)", "p.md", 0.1, 0.5)
    sources = [Source(1, evil), Source(2, spaced)]
    shown = answer_markdown(
        Answer(
            text="A [1][2].",
            sources=sources,
            cited=True,
            passages=[],
            covered=True,
            processing_time_ms=1,
            model="m",
            query="q",
        )
    )
    assert "javascript:alert" not in shown and "](/docs/a%20b%29%20%5BPWN%5D%28javascript:x%29?tutor-cite=j)" in shown
    panel = to_html("[the book](javascript:alert(1)) <script>alert(2)</script>")  # a passage, in its panel
    assert "href" not in panel and "<script" not in panel and "&lt;script&gt;" in panel
