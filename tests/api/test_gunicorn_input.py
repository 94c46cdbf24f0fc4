"""Behind real gunicorn, crashing JSON is our 422 problem, not gunicorn's error page.

Outside testing sent an array nested 1,000 levels deep as the whole body of an
unauthenticated login: gunicorn answered its own HTML 500, without a security header, and the
JSON log got a multi-line traceback. In-process tests cannot see that (Flask's test client is
not gunicorn), so this one starts gunicorn on loopback, as the e2e harness does, briefly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from api.migrate import upgrade
from tests.e2e.harness import BIN, Proc, free_port, generate_keys, lantern_env, spawn, wait_until
from web.problems import PROBLEM_MIME

BODIES = {
    "deep-array": b"[" * 1000 + b"]" * 1000,
    "deep-field": b'{"account_handle": ' + b"[" * 326 + b"]" * 326 + b', "pin": "1"}',
    "lone-surrogate": b'{"account_handle": "\\ud800", "pin": "482915"}',
    "huge-pin": b'{"account_handle": "h", "pin": ' + b"9" * 5000 + b"}",
}


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[str, Proc]]:
    url = f"sqlite:///{tmp_path / 'lantern.db'}"
    upgrade(url)
    port = free_port()
    env = lantern_env(tmp_path, url, port)
    generate_keys(env)
    argv = [str(BIN / "gunicorn"), "-c", "python:api.gunicorn_conf", "-b", f"127.0.0.1:{port}"]
    argv += ["-w", "2", "--timeout", "30"]
    proc = spawn("gunicorn", [*argv, "wsgi:app"], env, tmp_path)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not proc.alive():
            raise AssertionError("gunicorn exited:\n" + proc.log()[-3000:])
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until("gunicorn /healthz", up, 60, 0.2)
        yield base, proc
    finally:
        proc.stop()


def _post(base: str, body: bytes) -> requests.Response:
    return requests.post(
        base + "/v1/survivor/login",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=20,
    )


def test_gunicorn_answers_crashing_json_with_our_problem(gunicorn: tuple[str, Proc]) -> None:
    base, proc = gunicorn
    # A 5,000-digit number in a query is a request line past gunicorn's default limit (4094):
    # gunicorn answered its own 414 page. With Lantern's gunicorn settings the app answers.
    huge = requests.get(
        base + "/v1/survivor/access-log", params={"cursor": "9" * 5000}, timeout=20
    )
    assert huge.status_code == 401, huge.text[:200]  # who is asking comes first
    assert huge.headers["Content-Type"] == PROBLEM_MIME
    # Each shape three times, in parallel, over separate connections.
    names = sorted(BODIES) * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda name: _post(base, BODIES[name]), names))
    for name, r in zip(names, answers, strict=True):
        assert r.status_code == 422, (name, r.status_code, r.text[:200])
        assert r.headers["Content-Type"] == PROBLEM_MIME, name
        assert r.headers["Cache-Control"] == "no-store", name
        assert r.headers["X-Content-Type-Options"] == "nosniff", name
        assert "Content-Security-Policy" in r.headers, name
        assert r.json()["type"] == "urn:lantern:problem:validation-error", name
    proc.stop()
    log = proc.log()
    assert "Traceback" not in log
    assert "Error handling request" not in log  # gunicorn's own words for a crashed request
    app_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [line for line in app_lines if line.get("event") == "request"], "no access log?"
    assert not [line for line in app_lines if line.get("event") == "unhandled_error"]
