"""The LLM judge: the answering model decides the sentences the offline check could not.

A sentence the grounding checker leaves *not verified* (a paraphrase nothing confirms or contradicts) is sent,
with the passages it cites, to the model that wrote the answer, in one batched call after the answer. Its
reply, a JSON verdict per sentence, makes each one *supported* or *unsupported*; a reply that is late, fails
or does not parse leaves them *not verified*. Never used for book excerpts: those sentences are the book's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import replace

import openai
from agents import Agent, AgentsException, Model, RunConfig, Runner
from pydantic import BaseModel, ValidationError

from rag.answer.grounding import CheckedSentence
from rag.text.citations import MARKER

log = logging.getLogger(__name__)

INSTRUCTIONS = """You check a tutor's sentences against the textbook passages they cite.
For each numbered sentence, decide whether its cited passages state it or directly entail it. A sentence that
adds, changes or generalises a fact (a name, a number, a stricter word, a default) is not supported.
Reply with JSON only, no prose:
{"verdicts": [{"sentence": 1, "supported": true, "reason": "a few words"}]}"""

_JSON = re.compile(r"\{.*\}", re.DOTALL)


class _Verdict(BaseModel):
    sentence: int
    supported: bool
    reason: str = ""


class _Reply(BaseModel):
    verdicts: list[_Verdict]


def judge_prompt(sentences: Sequence[CheckedSentence], passages: Sequence[str]) -> str:
    """The numbered sentences to judge, each followed by the passages it cites (the untrusted text is data)."""
    blocks = []
    for i, sentence in enumerate(sentences, 1):
        cited = "\n".join(f'<passage n="{n}">\n{passages[n - 1]}\n</passage>' for n in sentence.cites)
        blocks.append(f"Sentence {i}: {MARKER.sub('', sentence.text).strip()}\n{cited}")
    return "\n\n".join(blocks)


def apply_verdicts(sentences: list[CheckedSentence], reply: str, model: str) -> list[CheckedSentence]:
    """The sentences with the judged ones decided; a reply that does not parse changes nothing."""
    pending = [i for i, s in enumerate(sentences) if s.verdict == "unverified"]
    found = _JSON.search(reply)
    try:
        verdicts = _Reply.model_validate(json.loads(found.group(0) if found else reply)).verdicts
    except (ValueError, ValidationError):
        log.warning("judge.unparsed model=%s reply=%r", model, reply[:200])
        return sentences
    decided = list(sentences)
    for verdict in verdicts:
        if 1 <= verdict.sentence <= len(pending):
            i = pending[verdict.sentence - 1]
            decided[i] = replace(
                sentences[i],
                verdict="supported" if verdict.supported else "unsupported",
                reason=f"judged by {model}: {verdict.reason}".rstrip(": "),
            )
    return decided


async def judge(
    sentences: list[CheckedSentence], passages: Sequence[str], model: Model, model_name: str, timeout: float
) -> list[CheckedSentence]:
    """The answer's sentences, with those not verified decided by `model` in one call (see the module doc)."""
    pending = [s for s in sentences if s.verdict == "unverified"]
    if not pending:
        return sentences
    agent = Agent(name="grounding judge", instructions=INSTRUCTIONS)
    try:
        async with asyncio.timeout(timeout):
            result = await Runner.run(
                agent,
                judge_prompt(pending, passages),
                run_config=RunConfig(model=model, tracing_disabled=True, workflow_name="grounding judge"),
                max_turns=1,
            )
    except (openai.OpenAIError, AgentsException, TimeoutError) as exc:  # left as the checker found them
        log.warning("judge.failed model=%s error=%s", model_name, exc or type(exc).__name__)
        return sentences
    return apply_verdicts(sentences, str(result.final_output or ""), model_name)
