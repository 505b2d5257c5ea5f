"""The vectors a point carries. They live with the store so importing it does not load fastembed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class Embedding:
    """What the store needs for one text: both vectors."""

    dense: list[float]
    sparse: SparseVector
