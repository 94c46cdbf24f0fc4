"""The README's "Walkthrough" block, extracted from README.md and run with bash as written.

Against gunicorn + a clock-travelling worker + a fresh PostgreSQL database, with the console
SMS backend (as ``make run``). The block's ``pass_time`` moves the worker's clock (through
``WALKTHROUGH_CLOCK_FILE``) where a reader would wait real minutes; everything else is the
block exactly as a reader would paste it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT, ClockFile, Deployment, deployment, free_port, make_workdir

pytestmark = pytest.mark.slow


def readme_walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Walkthrough\n", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Walkthrough section must hold exactly one ```sh block"
    return blocks[0]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Deployment, ClockFile, int]]:
    clock = ClockFile(tmp_path / "offset")
    receiver_port = free_port()  # the README's police receiver; its port alone is allowed
    with deployment(
        twilio_url="",  # console SMS, as `make run`
        workers=1,
        clock_file=clock,
        workdir=make_workdir("lantern-readme-"),
        extra={"LANTERN_WEBHOOK_ALLOWLIST": f"127.0.0.1:{receiver_port}"},
    ) as dep:
        yield dep, clock, receiver_port


def test_the_readme_walkthrough_runs_as_written(
    world: tuple[Deployment, ClockFile, int],
) -> None:
    dep, clock, receiver_port = world
    script = readme_walkthrough()
    assert "curl" in script
    assert "pass_time" in script
    env = {
        **dep.stack.env,
        "LANTERN_URL": dep.stack.base,
        "WALKTHROUGH_CLOCK_FILE": str(clock.path),
        "RECEIVER_PORT": str(receiver_port),
    }
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + "\n--- stderr ---\n" + done.stderr[-3000:]
    out = done.stdout
    assert out.rstrip().endswith("walkthrough complete")
    assert '{"band":"high","referral":true}' in out
    assert "police reference: ref_" in out
    assert '"source":"missed"' in out
    assert '"source":"duress"' in out
    assert '"direction":"out","agency_name":"County Police","kind":"welfare_check"' in out
    assert '"direction":"in","agency_name":"County Police","kind":"custody.released"' in out
    # Twelve minutes passed for the worker, not for the test.
    assert clock.offset() == 14 * 60
