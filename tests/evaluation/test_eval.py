"""`python -m evaluation` on small data written here (the real benchmark runs are in docs/quality.md)."""

import json
import re

from evaluation.__main__ import main
from evaluation.data import normalise_beir_text, normalise_for_match
from tests.conftest import SAMPLE_DOCS


def test_quote_matching_ignores_markup_case_and_bullets():
    chunk = "**Use Actions for**:\n- Long-running tasks\n- Tasks requiring `feedback`"
    assert normalise_for_match(
        "use actions for: - long-running tasks - tasks requiring feedback"
    ) in normalise_for_match(chunk)
    assert normalise_for_match("# ROS 2 - the   *next* gen") == "ros 2 the next gen"


def test_beir_sentence_joins_are_split():
    assert normalise_beir_text("functional disabilities.A line scan") == "functional disabilities. A line scan"
    assert normalise_beir_text("e.g. U.S. in 3.5 mg") == "e.g. U.S. in 3.5 mg"


ROWS = [
    {
        "id": "t1",
        "corpus": "S",
        "question": "How do I start many nodes with one command?",
        "answerable": True,
        "file": "S/01-ros2-basics/03-launch-files.md",
        "heading": "Why launch files?",
        "quote": "A **launch file** describes a set of nodes",
    },
    {
        "id": "t2",
        "corpus": "S",
        "question": "What is the zero moment point?",
        "answerable": True,
        "file": "S/04-humanoid-control/02-balance-and-walking.md",
        "heading": "The zero moment point",
        "quote": "where the horizontal moments of gravity and inertia cancel",
    },
    {
        "id": "t3",
        "corpus": "S",
        "question": "Which wine goes with fish?",
        "answerable": False,
        "file": None,
        "heading": None,
        "quote": None,
    },
]


def test_questions_command(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(r) for r in ROWS))
    out_json = tmp_path / "out.json"
    assert (
        main(
            [
                "questions",
                "--file",
                str(questions),
                "--corpus",
                f"S={SAMPLE_DOCS}",
                "--mode",
                "hybrid",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    mode, book, quote, file, mrr, rejected, wrongly = last.split()  # per book
    assert (mode, book, quote, file) == ("hybrid", "S", "quote@5=1.00", "file@5=1.00")
    assert float(mrr.split("=")[1]) >= 0.5
    assert (rejected, wrongly) == ("rejected_unanswerable=1/1", "rejected_answerable=0/2")
    assert json.loads(out_json.read_text())["modes"]["hybrid S"]["answerable"] == 2


def test_beir_command(tmp_path, capsys):
    (tmp_path / "qrels").mkdir()
    docs = {
        "d1": ("Insulin", "Exercise improves insulin sensitivity in muscle."),
        "d2": ("Bread", "Sourdough fermentation uses wild yeast.Bakers feed it daily."),
        "d3": ("Robots", "Humanoid robots balance by keeping the zero moment point in the support polygon."),
    }
    (tmp_path / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, (t, x) in docs.items())
    )
    (tmp_path / "queries.jsonl").write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"_id": "q1", "text": "does exercise change insulin sensitivity"},
                {"_id": "q2", "text": "how do humanoids keep balance"},
            ]
        )
    )
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    assert main(["beir", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["dense", "bm25", "hybrid"]
    assert all("ndcg@10=1.000" in line and "recall@100=1.000" in line for line in lines)


def test_answers_command(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(r) for r in ROWS))
    assert main(["answers", "--file", str(questions), "--corpus", f"S={SAMPLE_DOCS}"]) == 0
    book, last = capsys.readouterr().out.strip().splitlines()[-2:]
    assert book.startswith("answers S cited=1.00 section=")  # per book
    assert book.endswith("support=1.00 refused=1/1 wrongly_refused=0/2") and last.startswith("answers p50_ms=")


def test_grounding_command(tmp_path, capsys):
    item = {
        "id": "g1",
        "question": "What is a topic?",
        "answer": "Topics carry messages [1]. Made up [1].",
        "passages": [{"n": 1, "path": "x.md", "text": "Topics carry messages between nodes."}],
        "sentences": [
            {"text": "Topics carry messages [1].", "cites": [1], "label": "supported", "should_cite": None},
            {"text": "Made up [1].", "cites": [1], "label": "filler", "should_cite": None},
        ],
    }
    (tmp_path / "g.jsonl").write_text(json.dumps(item))
    assert main(["grounding", "--file", str(tmp_path / "g.jsonl")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"grounding all answers=1 invented_flagged=0\.00 altered_flagged=0\.00 miscited_fixed=0\.00 "
        r"uncited_attributed=0\.00 false_flags=0\.00 flag_precision=1\.00 invented_supported=0\.00 "
        r"altered_supported=0\.00 merged=0 ms_per_answer=\d+\.\d",
        last,
    )
    books = [dict(item, corpus="A"), dict(item, corpus="B", answer="Topics carry messages [1].", sentences=[])]
    (tmp_path / "g.jsonl").write_text("\n".join(json.dumps(b) for b in books))
    assert main(["grounding", "--file", str(tmp_path / "g.jsonl")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[-3:]
    assert [line.split()[1:3] for line in lines] == [["A", "answers=1"], ["B", "answers=1"], ["all", "answers=2"]]


def test_grounding_alignment_scores_a_merged_pair_and_never_aborts():
    """A labelled pair the checker reads as one sentence costs those two labels, and is counted as merged."""
    from evaluation.grounding import align, grounding_scores
    from rag.answer.grounding import GroundingChecker

    assert align(
        ["Nodes run code [1].", "Topics carry data [2].", "Bye."],
        ["Nodes run code [1]. Topics carry data [2].", "Bye."],
    ) == [0, 0, 1]
    assert align(["Something else entirely."], ["Nodes run code."]) == [None]
    passage = "Nodes run code. Topics carry data between nodes."
    item = {
        "answer": "Nodes run code [1]; topics carry data between nodes [1]. Hope that helps!",
        "passages": [{"n": 1, "text": passage}],
        "sentences": [
            {"text": "Nodes run code [1];", "cites": [1], "label": "supported", "should_cite": None},
            {"text": "topics carry data between nodes [1].", "cites": [1], "label": "supported", "should_cite": None},
            {"text": "Hope that helps!", "cites": [], "label": "filler", "should_cite": None},
        ],
    }
    scores = grounding_scores([item], GroundingChecker())
    assert scores["merged"] == 2 and scores["false_flags"] == 0.0
