import pytest

from rag.text.citations import CitationRewriter, parse_numbers, verify


@pytest.mark.parametrize(
    "inner,numbers",
    [
        ("1", [1]),
        ("1, 2", [1, 2]),
        ("2-4", [2, 3, 4]),
        ("1, 3–4", [1, 3, 4]),
        ("1 and 2", [1, 2]),
        ("1-500", []),
    ],
)
def test_parse_numbers(inner, numbers):
    assert parse_numbers(inner) == numbers


def test_renumbered_in_order_of_first_use_and_invalid_dropped():
    text, order = verify("Nodes run code [3]. Topics carry data [1, 3]. Made up [9]. Range [2-3].", 3)
    assert text == "Nodes run code [1]. Topics carry data [2][1]. Made up. Range [3][1]."
    assert order == [3, 1, 2]


def test_non_citation_brackets_are_left_alone():
    text, order = verify("Use `arr[0]` and [the docs](http://x) or [TODO].", 2)
    assert text == "Use `arr[0]` and [the docs](http://x) or [TODO]." and order == []


def test_markers_split_across_deltas():
    rewriter = CitationRewriter(passage_count=2)
    pieces = [rewriter.feed(d) for d in ["A topic [", "2", "] carries", " data [1", ",", " 7]."]]
    pieces.append(rewriter.finish())
    assert "".join(pieces) == "A topic [1] carries data [2]."
    assert rewriter.order == [2, 1] and rewriter.text == "A topic [1] carries data [2]."


def test_unclosed_bracket_is_flushed_at_the_end():
    rewriter = CitationRewriter(passage_count=1)
    assert rewriter.feed("an array a[") == "an array a"
    assert rewriter.finish() == "["


def test_no_passages_means_no_citations():
    assert verify("Claim [1].", 0) == ("Claim.", [])


def test_punctuation_after_a_delta_boundary_survives():
    rewriter = CitationRewriter(passage_count=1)
    out = rewriter.feed("It works ") + rewriter.feed(".") + rewriter.finish()
    assert out == "It works ."
