"""Locust's students for `bench/load.py`: each is a new browser-like client (its own visitor cookie) asking
questions of the book over `POST /api/v1/chat`, one after another without pause, each question a new chat."""

from __future__ import annotations

import random

from locust import HttpUser, constant, task

from bench.questions import QUESTIONS


class Student(HttpUser):
    wait_time = constant(0)

    @task
    def ask(self) -> None:
        self.client.post("/api/v1/chat", json={"content": random.choice(QUESTIONS)}, name="/api/v1/chat")
