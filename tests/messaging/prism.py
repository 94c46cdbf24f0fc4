"""A Prism mock of Twilio's own OpenAPI contract on loopback, for the integration tests.

Prism is installed project-locally (``.prism/node_modules``, git-ignored) with npm when it is
missing; the tests skip only when Node itself is missing. The mock checks every request
against Twilio's contract (``../shared/twilio/twilio_api_v2010.json``) and answers 422 to what
the contract refuses.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PRISM_DIR = ROOT / ".prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
CONTRACT = ROOT.parent / "shared" / "twilio" / "twilio_api_v2010.json"
PRISM_PACKAGE = "@stoplight/prism-cli@5"
START_TIMEOUT = 60.0


def install_prism() -> Path:
    """Install Prism into ``.prism`` unless it is there; returns the binary."""
    if PRISM_BIN.exists():
        return PRISM_BIN
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("node is installed but npm is not: cannot install Prism")
    PRISM_DIR.mkdir(exist_ok=True)
    subprocess.run(
        [npm, "install", "--no-save", "--no-audit", "--no-fund", PRISM_PACKAGE],
        cwd=PRISM_DIR,
        check=True,
        timeout=600,
        capture_output=True,
    )
    if not PRISM_BIN.exists():
        pytest.fail("npm install finished but the prism binary is missing")
    return PRISM_BIN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_prism() -> Iterator[str]:
    """Start Prism on a free loopback port, wait until it answers, yield its base URL."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the Prism contract tests need `node` (and npm)")
    if not CONTRACT.exists():
        pytest.fail(f"Twilio contract missing at {CONTRACT}")
    binary = install_prism()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "mock", str(CONTRACT), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Prism exited early with code {proc.returncode}")
            try:
                requests.get(base + "/", timeout=1)
                break  # any HTTP answer means it is listening
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail("Prism did not answer within 60 s")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
