"""Refusals by a storage limit (413 or 429 problem+json), and bursts of parallel requests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.json_client import JsonClient

PROBLEM = "urn:lantern:problem:"


def assert_refused(response: Any, status: int, slug: str, retry_after: int | None = None) -> None:
    """``response`` is the refusal a client must be able to act on: the status, the stable
    problem type, the usual headers, and (for 429) the seconds until a slot frees."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == PROBLEM + slug
    assert body["status"] == status
    assert response.headers["Cache-Control"] == "no-store"
    if retry_after is None:
        assert "Retry-After" not in response.headers
    else:
        assert response.headers["Retry-After"] == str(retry_after)


def burst(app: Flask, requests: list[Callable[[JsonClient], Any]]) -> list[int]:
    """Run the requests at the same moment, each in its own thread with its own client (and so
    its own database connection); returns their status codes, sorted."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = []
    lock = threading.Lock()

    def run(request: Callable[[JsonClient], Any]) -> None:
        client = JsonClient(app)
        barrier.wait(30)
        status = request(client).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == len(requests), "a request did not finish"
    return sorted(statuses)
