"""What a question asks for, and what a section is: the rules search and book-excerpt answers share.

A "what is" question wants the book's definition of its subject; a "how do I" one the code or steps that do it;
a section about the book (Learning Objectives, Summary, References) restates what another section says, so it
weighs less unless the question asks for it. Pure strings.
"""

from __future__ import annotations

import re

from rag.text.candidates import EMPHASIS
from rag.text.lexical import content_terms

# "What is ZMP?", "what's a node", "define URDF", "what does QoS stand for / mean"
_ASKS_DEFINITION = re.compile(r"\bwhat(?:'s| is| are| does)\b|\bdefin|\bmean(?:s|ing)?\b|\bstand for\b", re.IGNORECASE)
# A text that opens by naming its subject and then defines it: "**ZMP (Zero Moment Point)**: Concept ...",
# "A node is ...". Group 1 is the subject.
_DEFINES = re.compile(
    r"^\W*([^:()]{1,60}?)\W*(?:\([^)]{1,80}\))?\W*(?::\s|\s(?:is|are|means|refers to|stands for)\s)", re.IGNORECASE
)
# What a "what is" question names: "what is [a] <phrase>" or "what does <phrase> mean", the phrase ending at a
# preposition, a clause or punctuation ("what is ZMP when people talk about walking robots?" names ZMP). Its
# last word is its head ("a ROS 2 topic" is a topic).
_ASKED = re.compile(
    r"\b(?:what(?:'s| is| are)|define|meaning of)\s+(?:an?\s+|the\s+)?([^?.,;:!]+)"
    r"|\bwhat (?:does|do) (?:an?\s+|the\s+)?([^?.,;:!]+?) (?:mean|stand for)\b",
    re.IGNORECASE,
)
_COMPARES = re.compile(r"(?:main |key |real )?(?:differences?|distinctions?|relationship|comparison)\b", re.I)
_PHRASE_END = re.compile(
    r"\s(?:in|of|for|on|at|when|while|and|or|that|which|who|used|with|by|from|to|between|vs|versus|exactly|"
    r"actually|really|again|here|there)\b.*",
    re.IGNORECASE,
)
# "How do I publish ...?", "what command ...", "write a launch file": the answer should show the code that does it.
_ASKS_HOW = re.compile(
    r"\bhow\s+(?:do|can|should|would)\s+(?:i|we|you)\b|\bhow\s+to\b|\b(?:steps?|commands?|example|code|syntax)\b",
    re.IGNORECASE,
)
# A sentence that gives a reason or a consequence says so with one of these.
_GIVES_REASON = re.compile(
    r"\b(?:because|since|due to|caused by|causes?|so that|in order to|the reason|results? in|leads? to|"
    r"otherwise|which means|that(?:'s| is) why|therefore|thus)\b",
    re.IGNORECASE,
)
# Sections about the book rather than the subject, and the questions that do ask about them.
_META_SECTION = re.compile(
    r"^\W*(?:learning (?:objectives|outcomes|goals)|what'?s next|next steps|further reading|resources|references|"
    r"see also|additional resources|summary|key takeaways|recap)\W*$",
    re.IGNORECASE,
)
_ASKS_META = re.compile(
    r"\b(?:learn|objectives?|goals?|outcomes?|next|resources?|reading|references?|summar\w*|recap|takeaways?)\b",
    re.IGNORECASE,
)
# What a section about the book weighs, against 1 for the others.
META_WEIGHT = 0.5


def asks_definition(question: str) -> bool:
    return _ASKS_DEFINITION.search(question) is not None


def asks_how(question: str) -> bool:
    return _ASKS_HOW.search(question) is not None


def gives_reason(text: str) -> bool:
    return _GIVES_REASON.search(text) is not None


def asked_head(question: str) -> str | None:
    """The head term of what a "what is" question names ("topic" for "What is a ROS 2 topic?"), if it says; None
    for a comparison ("what is the difference between ..."), which asks for no definition."""
    found = _ASKED.search(question)
    phrase = (found.group(1) or found.group(2)) if found else ""
    named = [] if _COMPARES.match(phrase) else content_terms(_PHRASE_END.sub("", phrase))
    return named[-1] if named else None


def defines(text: str, question_terms: set[str], head: str | None = None) -> bool:
    """Does the text open by defining something the question names? Its subject's terms are all the question's
    `content_terms` ("Isaac Sim" for "what is Isaac Sim?", not "ORB-SLAM" for "what is SLAM?") and hold the
    question's `head` when it has one ("A topic is" for "what is a ROS 2 topic?", not "ROS 2 is")."""
    found = _DEFINES.match(EMPHASIS.sub("", text))
    subject = set(content_terms(found.group(1))) if found else set()
    return bool(subject) and subject <= question_terms and (head is None or head in subject)


def section_weight(question: str, breadcrumb: str) -> float:
    """`META_WEIGHT` for a "Learning Objectives" or "Next steps" section, or any section under one (a
    "References" page's "Humanoid Robotics" list), unless the question asks for them; 1 otherwise."""
    meta = any(_META_SECTION.match(part) for part in breadcrumb.split("›"))
    return META_WEIGHT if meta and not _ASKS_META.search(question) else 1.0
