"""Who may use what: visitors and their cookies, chat ownership over REST, login and API tokens, the rate limit,
the profiles each role may pick, and the users file."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from harness.fake_servers import FakeOpenAI
from harness.ports import free_port
from harness.redis import Redis
from rag.config import CHAINLIT_FAKE_OPENAI_KEY, ConfigError, Settings, load_settings
from rag.db.database import Database
from rag.identity import (
    VISITOR_COOKIE,
    UsersFile,
    check_password,
    hash_password,
    new_visitor_cookie,
    visitor_from_cookie,
)
from rag.llm.providers import ProfileNotAllowed
from rag.llm.providers import offered as offered_to
from rag.users import main as users_main
from tests.api_client import api_client
from web.access import Access
from web.ratelimit import LOGINS_PER_ADDRESS, LOGINS_PER_PAIR, Limited, RateLimiter

QUESTION = {"content": "What is a ROS 2 node?"}


def access_of(settings: Settings) -> Access:
    return Access.from_settings(settings, Database(settings))


@pytest.fixture
def engine_factory(make_engine):
    return lambda: make_engine()


def test_each_visitor_gets_a_signed_cookie_and_keeps_their_chat(engine_factory):
    alice, mallory = api_client(engine_factory), api_client(engine_factory)
    first = alice.post("/api/v1/chat", json=QUESTION)
    assert first.status_code == 200 and VISITOR_COOKIE in first.cookies
    chat_id = first.json()["chat_id"]
    follow_up = alice.post("/api/v1/chat", json={"content": "and how do I launch it?", "chat_id": chat_id})
    assert follow_up.status_code == 200 and follow_up.json()["searched"].endswith("+ What is a ROS 2 node?")
    intruder = mallory.post("/api/v1/chat", json={"content": "What did I ask?", "chat_id": chat_id})
    assert intruder.status_code == 404 and "What is a ROS 2 node" not in intruder.text
    stream = mallory.post("/api/v1/chat/stream", json={"content": "What did I ask?", "chat_id": chat_id})
    assert stream.status_code == 404


def test_a_forged_visitor_cookie_is_a_new_visitor():
    secret = "k" * 40
    cookie = new_visitor_cookie(secret)
    assert visitor_from_cookie(secret, cookie).anonymous
    visitor, _, mac = cookie.partition(".")
    assert visitor_from_cookie(secret, f"someone-else.{mac}") is None
    assert visitor_from_cookie("other" * 8, cookie) is None and visitor_from_cookie(secret, None) is None


def test_over_the_rate_limit_is_429_with_retry_after(engine_factory, env):
    env(RATE_LIMIT_PER_MINUTE="2")
    client = api_client(engine_factory)
    assert [client.post("/api/v1/chat", json=QUESTION).status_code for _ in range(2)] == [200, 200]
    limited = client.post("/api/v1/chat", json=QUESTION)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert api_client(engine_factory).post("/api/v1/chat", json=QUESTION).status_code == 200  # per identity
    limiter = RateLimiter(2)
    refusals = [asyncio.run(limiter.check("a")) for _ in range(3)]
    assert refusals[:2] == [None, None] and refusals[2] is not None and 59 <= refusals[2].wait <= 60
    assert asyncio.run(limiter.check("b")) is None


def test_a_client_that_drops_its_cookie_meets_the_address_limit(engine_factory, env):
    env(RATE_LIMIT_PER_ADDRESS="2")
    client = api_client(engine_factory)
    statuses = []
    for _ in range(3):
        client.cookies.clear()  # a new visitor every time
        statuses.append(client.post("/api/v1/chat", json=QUESTION))
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert "from this address" in statuses[2].json()["detail"] and statuses[2].headers["retry-after"]


def test_trusted_proxies_must_be_addresses(env):
    env(TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    assert load_settings().trusted_proxies == "127.0.0.1,10.0.0.0/8"
    env(TRUSTED_PROXIES="nginx.local")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings()


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users.json"
    UsersFile(path).save({"ina": {"password": hash_password("correct horse"), "role": "instructor"}})
    return path


def test_with_login_configured_rest_callers_need_a_token(engine_factory, users_file, env, capsys):
    env(USERS_FILE=str(users_file), CHAINLIT_AUTH_SECRET="s" * 48, API_TOKEN="service-token-" + "x" * 30)
    assert users_main(["--file", str(users_file), "token", "ina"]) == 0
    token = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    client = api_client(engine_factory)
    anonymous = client.post("/api/v1/chat", json=QUESTION)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert VISITOR_COOKIE not in anonymous.cookies  # no visitors once login is configured
    assert client.post("/api/v1/chat", json=QUESTION, headers={"Authorization": "Bearer wrong"}).status_code == 401
    mine = client.post("/api/v1/chat", json=QUESTION, headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    service = {"Authorization": "Bearer service-token-" + "x" * 30}
    other = client.post("/api/v1/chat", json={**QUESTION, "chat_id": mine.json()["chat_id"]}, headers=service)
    assert other.status_code == 404  # the service identity is not ina


def test_login_without_a_secret_names_the_variable(users_file, env):

    env(USERS_FILE=str(users_file))
    with pytest.raises(ConfigError, match="CHAINLIT_AUTH_SECRET is not set but login is configured"):
        load_settings()
    env(CHAINLIT_AUTH_SECRET="s" * 48, USERS_FILE=str(users_file.with_name("missing.json")))
    with pytest.raises(ConfigError, match="python -m rag.users add"):
        load_settings()


def test_zero_config_generates_and_keeps_its_secret(tmp_path, env):
    env(DATA_DIR=str(tmp_path / "data"))
    first = access_of(load_settings()).secret
    assert len(first) >= 40 and access_of(load_settings()).secret == first
    assert oct((tmp_path / "data" / "auth-secret").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "variables,role,offered",
    [
        ({}, "student", ["excerpts", "bundled"]),
        (
            {"GEMINI_API_KEY": "g", "OPENAI_API_KEY": "sk-" + "r" * 30},
            "student",
            ["gemini", "openai", "excerpts", "bundled"],
        ),
        (
            {"LLM_PROVIDER": "local", "LOCAL_LLM_BASE_URL": "http://127.0.0.1:9/v1", "GEMINI_API_KEY": "g"},
            "student",
            ["local"],
        ),
        ({"GEMINI_API_KEY": "g", "STUDENT_PROFILES": "excerpts"}, "student", ["excerpts"]),
        ({"GEMINI_API_KEY": "g", "STUDENT_PROFILES": "excerpts"}, "instructor", ["gemini", "excerpts", "bundled"]),
        ({"OPENAI_API_KEY": CHAINLIT_FAKE_OPENAI_KEY}, "instructor", ["excerpts", "bundled"]),
    ],
)
def test_profiles_offered_by_role(env, tmp_path, variables, role, offered):
    env(DATA_DIR=str(tmp_path), **variables)
    assert offered_to(load_settings(), role) == offered


def test_users_file_cli(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long password\n"))
    assert users_main(["--file", str(path), "add", "ian", "--role", "instructor", "--password-stdin"]) == 0
    stored = json.loads(path.read_text())["users"]["ian"]
    assert stored["role"] == "instructor" and "a long password" not in path.read_text()
    assert check_password("a long password", stored["password"]) and not check_password("wrong", stored["password"])
    assert UsersFile(path).login("ian", "a long password").role == "instructor"
    assert UsersFile(path).login("ian", "nope") is None and oct(path.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("short\n"))
    assert users_main(["--file", str(path), "add", "sam", "--password-stdin"]) == 2
    assert users_main(["--file", str(path), "remove", "ian"]) == 0 and UsersFile(path).load() == {}
    assert users_main(["--file", str(path), "token", "nobody"]) == 2 and "no user" in capsys.readouterr().err


def test_with_redis_every_process_shares_one_limit():
    redis = Redis()
    try:
        first, second = RateLimiter(2, redis_url=redis.url), RateLimiter(2, redis_url=redis.url)  # two processes

        async def ask() -> list[Limited | None]:
            return [await first.check("a"), await second.check("a"), await second.check("a"), await first.check("b")]

        refusals = asyncio.run(ask())
        assert refusals[:2] == [None, None] and refusals[3] is None
        assert refusals[2] is not None and refusals[2].by == "identity" and 59 <= refusals[2].wait <= 60
    finally:
        redis.stop()


def test_an_unreachable_redis_is_a_503_naming_redis_url(engine_factory, env):
    env(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    refused = api_client(engine_factory).post("/api/v1/chat", json=QUESTION)
    assert refused.status_code == 503 and "REDIS_URL" in refused.json()["detail"]


def test_a_malformed_redis_url_names_the_variable(env):
    env(REDIS_URL="localhost:6379")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings()


def test_student_profiles_bind_rest_and_the_engine(make_engine, tmp_path, env, capsys):
    """STUDENT_PROFILES=excerpts with a local LLM configured: a student's REST question is answered from the
    book, asking for the LLM is a 403 naming what they may pick, and an instructor may use it."""
    llm = FakeOpenAI(["A node is a process [1]."], model="fake-llm")
    path = tmp_path / "users.json"
    UsersFile(path).save({"sam": {"password": hash_password("pw"), "role": "student"}, "ina": {"role": "instructor"}})
    env(
        USERS_FILE=str(path),
        CHAINLIT_AUTH_SECRET="s" * 48,
        LOCAL_LLM_BASE_URL=llm.base_url,
        LOCAL_LLM_MODEL="fake-llm",
        STUDENT_PROFILES="excerpts",
    )
    tokens = {}
    for name in ("sam", "ina"):
        assert users_main(["--file", str(path), "token", name]) == 0
        tokens[name] = {"Authorization": "Bearer " + capsys.readouterr().out.strip().rsplit(" ", 1)[1]}
    try:
        client = api_client(lambda: make_engine())
        default = client.post("/api/v1/chat", json=QUESTION, headers=tokens["sam"])
        forbidden = client.post("/api/v1/chat", json={**QUESTION, "profile": "local"}, headers=tokens["sam"])
        streamed = client.post("/api/v1/chat/stream", json={**QUESTION, "profile": "local"}, headers=tokens["sam"])
        instructor = client.post("/api/v1/chat", json={**QUESTION, "profile": "local"}, headers=tokens["ina"])
        with pytest.raises(ProfileNotAllowed, match="Book excerpts"):
            asyncio.run(make_engine().answers.answer("What is a node?", "c-x", provider_name="local", role="student"))
    finally:
        llm.close()
    assert default.status_code == 200 and default.json()["model"].startswith("excerpts")
    assert forbidden.status_code == 403 and "excerpts" in forbidden.json()["detail"]
    assert streamed.status_code == 403
    assert instructor.status_code == 200 and instructor.json()["model"] == "local: fake-llm"


def test_password_guessing_is_limited_per_user_and_address_and_per_address(engine_factory, users_file, env):
    """A guesser is slowed at their address; the real user, logging in from elsewhere, is not locked out."""
    env(USERS_FILE=str(users_file), CHAINLIT_AUTH_SECRET="s" * 48)
    client = api_client(engine_factory)  # Chainlit's /login is not mounted here: allowed attempts pass on (405)
    elsewhere = TestClient(client.app, client=("192.0.2.7", 50000))

    def attempt(user: str, by: TestClient = client) -> int:
        return by.post("/login", data={"username": user, "password": "guess"}).status_code

    guessed = [attempt("ina") for _ in range(LOGINS_PER_PAIR + 1)]
    assert 429 not in guessed[:-1] and guessed[-1] == 429
    assert attempt("ina", elsewhere) == 405  # the real user, from their own address, still reaches the login
    others = [attempt(f"user-{n}") for n in range(LOGINS_PER_ADDRESS)]
    assert others.count(429) == LOGINS_PER_PAIR + 1  # the address had used that many already


@pytest.mark.parametrize(
    "form",
    [
        {"data": {"username": ["ina", "decoy"], "password": "guess"}},  # a repeated field
        {"files": {"username": (None, "ina"), "password": (None, "guess")}},  # multipart
    ],
)
def test_the_attempt_limit_reads_the_form_as_the_login_does(engine_factory, users_file, env, form):
    """A multipart form is counted for its user; a repeated username is refused (the route and the check could
    each read another)."""
    env(USERS_FILE=str(users_file), CHAINLIT_AUTH_SECRET="s" * 48)
    client = api_client(engine_factory)
    codes = [client.post("/login", **form).status_code for _ in range(LOGINS_PER_PAIR + 1)]
    if "files" in form:
        assert 429 not in codes[:-1] and codes[-1] == 429
    else:
        assert set(codes) == {400}


def test_logins_with_redis_down_are_a_503_naming_redis_url_and_health_says_so(engine_factory, users_file, env):
    env(USERS_FILE=str(users_file), CHAINLIT_AUTH_SECRET="s" * 48, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = api_client(engine_factory)
    login = client.post("/login", data={"username": "ina", "password": "correct horse"})
    assert login.status_code == 503 and "REDIS_URL" in login.json()["detail"]
    health = client.get("/api/v1/health")
    assert health.status_code == 503 and not health.json()["rate_limits"]["ok"]
    assert "REDIS_URL" in health.json()["rate_limits"]["detail"] and "rate_limits" in health.json()["status"]


def test_an_unknown_user_costs_the_same_password_check(users_file, monkeypatch):
    import rag.identity as identity

    checked: list[str] = []
    real = identity.check_password
    monkeypatch.setattr(
        identity, "check_password", lambda password, stored: checked.append(stored) or real(password, stored)
    )
    users = UsersFile(users_file)
    assert users.login("nobody", "guess") is None and users.login("ina", "guess") is None
    assert len(checked) == 2 and all(stored.startswith("scrypt$") for stored in checked)
    assert users.login("ina", "correct horse") is not None
