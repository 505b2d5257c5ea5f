"""The instructor view on a database seeded with a few hundred chats asked through the real tutor (book excerpts,
and a scripted model standing in for a paid one): the counts, the gaps grouped by meaning, the flagged answers,
the quality per model, and who may see it."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
from datetime import date, timedelta

import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message
from chainlit.context import init_http_context
from chainlit.types import Feedback
from chainlit.user import User
from sqlalchemy import func, select, update

from rag.config import load_settings
from rag.db.schema import answers
from rag.engine import Engine
from rag.identity import LINK_PATH, UsersFile, hash_password, hash_token
from rag.llm.providers import ProviderName
from rag.report.gaps import gaps_csv, group_questions
from rag.report.service import build_report, mark_reviewed
from rag.report.shown import LOW_GROUNDING, AnswerFilter, Gap, Period, Report
from rag.text.sentences import split_markdown
from rag.users import main as users_main
from tests.api_client import api_client, open_instructor_view
from tests.conftest import build_engine
from web.datalayer import TutorDataLayer
from web.storage import FolderStorage

pytestmark = pytest.mark.slow

BOOK = [
    "What is the zero moment point?",
    "How do I describe a robot's links and joints in URDF?",
    "What is a ROS 2 topic?",
    "How do launch files start several nodes?",
    "What does a camera intrinsic matrix do?",
]
COOKING = [
    "How do I bake sourdough bread at home?",
    "What temperature should I bake a sponge cake at?",
    "How long should I knead pizza dough?",
    "How do I make bread rise faster?",
]
FOOTBALL = [
    "Who won the football world cup in 2014?",
    "How does the offside rule work in football?",
    "Which football club has won the most league titles?",
]
INVENTED = "Every humanoid robot in the course weighs exactly 300 kg."
INVENTED_TOO = "Each of them also carries a 48 V battery that lasts 9 hours."
TODAY = date.today()


async def seed(engine: Engine, layer: TutorDataLayer) -> dict:
    """Ask 220 questions over 6 days; thumbs-down on the answers the scripted model invented."""
    init_http_context()
    user = await layer.create_user(User(identifier="student-one", metadata={"role": "student"}))
    assert user is not None
    questions: list[tuple[str, ProviderName]] = [(q, "excerpts") for q in BOOK * 30] + [(q, "local") for q in BOOK * 8]
    questions += [(q, "excerpts") for q in COOKING * 5] + [(q, "excerpts") for q in FOOTBALL * 5]
    downvoted, step_ids = [], itertools.count()
    for i, (question, profile) in enumerate(questions):
        chat_id, step_id = f"chat-{i}", f"step-{next(step_ids)}"
        await layer.update_thread(chat_id, name=question, user_id=user.id)
        async for _ in await engine.answers.ask(
            question, chat_id, provider_name=profile, owner=user.identifier, step_id=step_id
        ):
            pass
        if profile == "local" and i % 2 == 0:
            await layer.upsert_feedback(Feedback(forId=step_id, value=0, threadId=chat_id, comment=f"wrong {i}"))
            downvoted.append(chat_id)
        elif profile == "excerpts" and i % 10 == 0:
            await layer.upsert_feedback(Feedback(forId=step_id, value=1, threadId=chat_id))
    sql = await engine.database.ready()
    async with sql.begin() as connection:  # spread over the last six days, as a week of use would
        for day in range(6):
            stamp = (TODAY - timedelta(days=day)).isoformat()
            await connection.execute(
                update(answers).where(answers.c.chatId.like(f"chat-%{day}")).values(createdAt=stamp + "T10:00:00.000Z")
            )
        low = (await connection.execute(select(func.count()).where(answers.c.grounded < LOW_GROUNDING))).scalar()
    return {
        "total": len(questions),
        "off_topic": len(COOKING + FOOTBALL) * 5,
        "downvoted": len(downvoted),
        "local": len(BOOK) * 8,
        "excerpts": len(questions) - len(BOOK) * 8,
        "low_grounding": low,
    }


def half_invented(call):
    """An answer of three sentences: the first of passage [1], cited, then two invented ones (grounded 1/3)."""
    passage = call.system_instructions.split("<passage>\n[1] ", 1)[1].split("\n", 1)[1]
    first = next(u.text for u in split_markdown(passage) if u.kind == "sentence" and len(u.text.split()) >= 6)
    return [assistant_message(f"{first} [1] {INVENTED} {INVENTED_TOO}")]


async def seeded_then_closed(engine: Engine, layer: TutorDataLayer) -> dict:
    try:
        return await seed(engine, layer)
    finally:
        await engine.database.close()  # in the loop that opened the pool


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, sample_store, embedder):
    settings = load_settings(data_dir=tmp_path_factory.mktemp("instructor"), local_llm_base_url="http://127.0.0.1:9/v1")
    model = ScriptedModel([ModelStep.respond(half_invented)] * 1000)
    seeding = build_engine(sample_store, embedder, model, settings, pooled=True)  # one event loop: the app's pool
    layer = TutorDataLayer(seeding.database, FolderStorage(settings.data_dir / "files", "s" * 40))
    counts = asyncio.run(seeded_then_closed(seeding, layer))
    # The tests run many event loops (asyncio.run, a test client's request each): a connection per use, so none
    # outlives the loop that opened it.
    return build_engine(sample_store, embedder, model, settings), counts


def report(engine: Engine, days: int = 7):
    async def build():
        try:
            return await build_report(
                engine.database, Period.last(days), engine.retriever.nearest, engine.retriever.payloads
            )
        finally:
            await engine.database.close()

    return asyncio.run(build())


def test_activity_counts(seeded):
    engine, counts = seeded
    found = report(engine)
    assert found.questions == counts["total"] and found.refused == counts["off_topic"]
    assert sum(n for _, n in found.per_day) == counts["total"] and len(found.per_day) == 7
    assert all(n > 0 for _, n in found.per_day[1:])  # six days with questions, the oldest of seven without
    chapters = dict(found.per_chapter)
    assert chapters["Not covered"] == counts["off_topic"] and sum(chapters.values()) == counts["total"]
    assert chapters["Module 4: Humanoid Control"] > 0  # the sidebar category of the balance page
    assert report(engine, days=1).questions < counts["total"]  # the date range narrows it


def test_off_topic_questions_group_together(seeded):
    engine, counts = seeded
    gaps = report(engine).gaps
    [off_topic] = [g for g in gaps if set(g.examples) & set(COOKING + FOOTBALL)]
    assert off_topic.off_topic and off_topic.count == counts["off_topic"] and off_topic.refused == off_topic.count
    assert set(off_topic.examples) <= set(COOKING + FOOTBALL)
    near = [g for g in gaps if not g.off_topic]  # the scripted model's low-grounding answers, by meaning
    assert near and all(g.low_grounding == g.count and g.section and g.url for g in near)
    assert sum(g.count for g in near) == counts["low_grounding"]
    assert all(len(set(g.examples)) == 1 for g in near)  # one book question per group: unlike ones stay apart


def test_flagged_answers_and_quality_per_model(seeded):
    engine, counts = seeded
    found = report(engine)
    assert len(found.flagged) == counts["downvoted"]
    first = found.flagged[0]
    assert first.comment.startswith("wrong ") and INVENTED in first.answer and first.model.startswith("local")
    assert first.student.startswith("student-") and first.student != "student-one"  # anonymous by default
    assert first.sources and first.sources[0]["text"]  # the cited passage, opened inline
    models = {m.profile: m for m in found.models}
    assert models["local"].answers == counts["local"] and models["local"].thumbs_down == counts["downvoted"]
    assert models["excerpts"].supported == 1.0 and 0.25 <= models["local"].supported <= 0.5
    assert models["excerpts"].refused == counts["off_topic"] and models["excerpts"].thumbs_up > 0
    assert found.sections and found.sections[0].text and found.pages[0].count >= found.pages[-1].count
    assert asyncio.run(mark_reviewed(engine.database, first.answer_id))
    assert report(engine).flagged[-1].answer_id == first.answer_id and report(engine).flagged[-1].reviewed


def test_the_page_and_its_data(seeded):
    engine, counts = seeded
    client = open_instructor_view(api_client(lambda: engine))
    page = client.get("/instructor")
    assert page.status_code == 200 and "Coverage gaps" in page.text and "wrong " in page.text
    answers = page.text.split('id="flagged"', 1)[1]
    assert "<p>" in answers and "**" not in answers  # markdown shown as the chat shows it, not as markup
    assert f"<b>{counts['total']}</b>questions" in page.text and "<svg" in page.text
    data = client.get("/api/v1/instructor/report").json()
    assert data["questions"] == counts["total"] and data["period"]["until"] == str(TODAY)
    csv = client.get("/api/v1/instructor/gaps.csv")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.splitlines()[0].startswith("questions,")
    assert any("sourdough" in line for line in csv.text.splitlines())
    assert client.get("/instructor?since=nonsense").status_code == 422


def test_a_relay_on_this_host_does_not_open_the_instructor_view(seeded, capsys):
    """Behind `ssh -L`, socat or a proxy on this host every client is loopback: only the one-time link the app
    printed opens the view, in the one browser that used it first."""
    engine, _ = seeded
    relayed = api_client(lambda: engine)  # a loopback client, as every relayed one is
    for path in ("/instructor", "/api/v1/instructor/report", "/api/v1/instructor/gaps.csv"):
        response = relayed.get(path)
        assert response.status_code == 403 and "one-time link" in response.json()["detail"]
    maintainer = api_client(lambda: engine)
    assert users_main(["instructor-link", "--url", "http://testserver"]) == 0
    link = capsys.readouterr().out.split(": ", 1)[1].strip()
    token = link.split("token=", 1)[1]
    for _ in range(3):  # a chat client's link preview, a mail scanner: looking spends nothing
        looked = relayed.get(link)
        assert looked.status_code == 200 and "Open the instructor view" in looked.text and "<form" in looked.text
    assert relayed.get("/instructor").status_code == 403  # looking opens nothing either
    opened = maintainer.post(LINK_PATH, data={"token": token}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/instructor"
    assert maintainer.get("/instructor").status_code == 200
    used = relayed.get(link)  # an HTML page that says what to do
    assert used.status_code == 403 and "text/html" in used.headers["content-type"]
    assert "instructor-link" in used.text and "<form" not in used.text
    assert relayed.post(LINK_PATH, data={"token": token}, follow_redirects=False).status_code == 403  # once only
    assert relayed.get(LINK_PATH + "?token=forged.1.x").status_code == 403
    assert relayed.get("/instructor").status_code == 403


def test_who_may_see_it(seeded, tmp_path, env):
    engine, _ = seeded
    users = tmp_path / "users.json"
    UsersFile(users).save(
        {
            "ina": {"password": hash_password("x" * 10), "role": "instructor", "tokens": [hash_token("i" * 40)]},
            "sam": {"password": hash_password("x" * 10), "role": "student", "tokens": [hash_token("s" * 40)]},
        }
    )
    env(USERS_FILE=str(users), CHAINLIT_AUTH_SECRET="k" * 48)
    client = api_client(lambda: engine)
    for path in ("/instructor", "/api/v1/instructor/report", "/api/v1/instructor/gaps.csv"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer " + "s" * 40}).status_code == 403
        assert client.get(path, headers={"Authorization": "Bearer " + "i" * 40}).status_code == 200
    flagged = report(engine).flagged[0]
    forged = client.post(
        f"/instructor/flagged/{flagged.answer_id}/reviewed",
        data={"token": "forged"},
        headers={"Authorization": "Bearer " + "i" * 40},
    )
    assert forged.status_code == 403


def test_grouping_keeps_unlike_questions_apart():
    import numpy as np

    a, b = np.array([1.0, 0, 0], dtype=np.float32), np.array([0, 1.0, 0], dtype=np.float32)
    near_a = np.array([0.9, 0.1, 0], dtype=np.float32) / np.linalg.norm([0.9, 0.1, 0])
    assert group_questions(np.vstack([a, b, near_a, a])) == [[0, 2, 3], [1]]
    assert json.dumps(group_questions(np.zeros((0, 3), dtype=np.float32))) == "[]"


def test_a_supported_answer_off_the_point_is_listed_beside_the_flagged(tmp_path, sample_store, embedder):
    """The book's own definition of a topic, recorded as the answer to a question about falling over (an earlier
    question leaking into a new one): fully supported, and listed with why it misses the question."""
    from dataclasses import replace

    from rag.answer.relevance import relevance
    from rag.chats.history import Asked

    engine = build_engine(sample_store, embedder, settings=load_settings(data_dir=tmp_path))
    question = "Why does my robot fall over when it walks?"

    async def record() -> None:
        answer = await engine.answers.answer("What is a ROS 2 topic?", "chat-1", provider_name="excerpts")
        leaked = replace(answer, relevance=relevance(question, answer.text, engine.retriever.stats))
        await engine.history.record(leaked, Asked(question, "chat-1", "student-one", "excerpts"))

    asyncio.run(record())
    found = report(engine)
    [off] = found.off_point
    assert off.question == question and off.grounded == 1.0 and "of the question's topic" in off.reason
    page = open_instructor_view(api_client(lambda: engine)).get("/instructor")
    assert "Supported, but off the point" in page.text and question.replace("'", "&#39;") in page.text


def test_answers_are_shown_as_markdown_with_no_markup_of_their_own():
    from web.instructor import templates

    shown = templates.filters["markdown"](
        "**statically stable** `ros2 run` <script>alert(1)</script> [x](javascript:alert(2))\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<strong>statically stable</strong>" in shown and "<code>ros2 run</code>" in shown and "<table>" in shown
    assert "<script>" not in shown and "&lt;script&gt;" in shown and 'href="javascript' not in shown


def test_every_recent_answer_is_listed_and_filtered(seeded):
    """The instructor sees the answers, not only counts: by cited section, by verdict and by whether they
    answer their question."""
    engine, counts = seeded
    found = report(engine)
    assert len(found.recent) == counts["total"]
    client = open_instructor_view(api_client(lambda: engine))

    def listed(**query: str) -> str:
        page = client.get("/instructor", params=query)
        assert page.status_code == 200
        return page.text.split('id="recent"', 1)[1].split('id="off-point"', 1)[0]

    flagged = listed(verdict="flagged")
    assert INVENTED in flagged and "sourdough" not in flagged  # the scripted model's invented sentences
    refused = listed(verdict="refused")
    assert "sourdough" in refused and INVENTED not in refused
    balance = listed(section="Balance", verdict="supported")
    assert "zero moment point" in balance.lower() and "sourdough" not in balance and INVENTED not in balance
    assert "No answer matches." in listed(section="no such section")
    assert client.get("/instructor", params={"verdict": "nonsense"}).status_code == 422
    assert len(found.answered(AnswerFilter(answers="yes"))) == 50  # the newest 50 are shown


def test_csv_cells_that_look_like_formulas_stay_text():
    questions = ['=HYPERLINK("https://evil.example/x","click")', "=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)"]
    gaps = [Gap(1, 1, 0, [q], section=q) for q in questions] + [Gap(1, 0, 0, ["What is a node?"], section="Nodes")]
    report = Report(Period(date(2026, 1, 1), date(2026, 1, 2)), 6, 5, [], [], gaps, [], [], [], [])
    cells = [cell for line in gaps_csv(report).splitlines()[1:] for cell in next(csv.reader([line]))[3:]]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert '\'=HYPERLINK("https://evil.example/x","click")' in cells and "What is a node?" in cells
