"""Numbers as a claim and a passage state them: values that compare equal however they are written."""

from __future__ import annotations

import re

# Numbers, with thousands separators and decimals; a range ("8-10", "8 to 10") is one token.
NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(?:\s*(?:-|–|to)\s*\$?(\d+(?:[.,]\d+)*))?(?![\d])")


def normal(text: str) -> str:
    """'2,500' -> '2500', '10.0' -> '10': numbers compare by value."""
    text = text.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text) else text
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(round(value, 6))


def token(m: re.Match) -> str:
    """A number as the text states it: a range as 'lo-hi'."""
    lo = normal(m.group(1))
    return f"{lo}-{normal(m.group(2))}" if m.group(2) else lo


def numbers(text: str) -> set[str]:
    """Number tokens: each single number, and each range as 'lo-hi' (whose ends also count alone)."""
    found: set[str] = set()
    for m in NUMBER.finditer(text):
        found.add(normal(m.group(1)))
        if m.group(2):
            found |= {normal(m.group(2)), token(m)}
    return found


def values(text: str) -> list[float]:
    """The single numbers of a text, in order, as values (for arithmetic)."""
    found = []
    for m in NUMBER.finditer(text):
        for group in (m.group(1), m.group(2)):
            if group and (value := normal(group)).replace(".", "", 1).isdigit():
                found.append(float(value))
    return found
