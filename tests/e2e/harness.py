"""Real processes on loopback for the end-to-end test, the drills and the benchmarks.

Everything here is started on a free 127.0.0.1 port and stopped by its own PID (never by
name); every wait is bounded. What runs:

- a fresh PostgreSQL database (``CREATE DATABASE`` on the shared server, or a private server
  made with ``initdb`` for the drills that stop it), migrated with ``lantern db upgrade``;
- gunicorn serving ``wsgi:app`` and one or more ``lantern worker`` processes, configured only
  through ``LANTERN_`` variables, with a real keys file from ``lantern keys generate``;
- in this process (threads): a Standard Webhooks reference receiver that verifies every
  request with the ``standardwebhooks`` package, and a Twilio stand-in that answers
  ``POST /2010-04-01/Accounts/{sid}/Messages.json`` after a configurable delay.

The Prism mock of Twilio's contract is reused from ``tests/messaging/prism.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
# The shared server (trust auth, user postgres): each stack makes its own database there.
ADMIN_URL = os.environ.get("LANTERN_E2E_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "e2e-twilio-auth-token-not-secret"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, ok: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    """Poll ``ok`` until it is true; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class _Server(ThreadingHTTPServer):
    """A threaded loopback server with room for a burst of connections."""

    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a SIGKILLed worker mid-send) is part of the drills.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process in its own session, logging to a file; stopped by its PID only."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (graceful), then SIGKILL after ``timeout``; the whole process group."""
        if not self.alive():
            return
        self._signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, no goodbyes (the fault drills)."""
        if self.alive():
            self._signal(signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT)

    def _signal(self, sig: int) -> None:
        # start_new_session made the child a group leader: its group id is its PID, so
        # gunicorn's own workers go with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def spawn(name: str, argv: list[str], env: Mapping[str, str], logdir: Path) -> Proc:
    log_path = logdir / f"{name}.log"
    with log_path.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log_path)


# --- PostgreSQL --------------------------------------------------------------------------------


def create_database(admin_url: str | None = None) -> tuple[str, Callable[[], None]]:
    """A fresh empty database on ``admin_url``'s server: (its URL, a function dropping it)."""
    admin_url = admin_url or ADMIN_URL
    name = f"lantern_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


class PrivatePostgres:
    """A PostgreSQL server of our own (initdb in a temp dir) that the drills may stop.

    The machine's shared server must never be stopped: other people's tests use it.
    PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user.
    """

    def __init__(self, workdir: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl: cannot start a private server")
        self.bindir = bins[-1].parent
        self.datadir = workdir / "pgdata"
        self.port = free_port()
        self.workdir = workdir
        self.logfile = workdir / "postgres.log"

    def _run(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
            f"{self.workdir} -c fsync=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
            "-o", opts, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()  # unless already stopped
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


# --- the Twilio stand-in -----------------------------------------------------------------------


@dataclass
class TwilioStandIn:
    """Answers Twilio's send-SMS call after ``delay`` seconds with a Message of a unique sid.

    ``up = False`` answers 503 at once (Twilio down). Records when each send arrived.
    """

    delay: float = 0.2
    up: bool = True
    sends: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, To)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")

    def start(self) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                match = stand_in.PATH.match(self.path)
                if match is None:
                    return self._answer(404, {"code": 20404, "message": "not found"})
                if not stand_in.up:
                    return self._answer(503, {"code": 20503, "message": "unavailable"})
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                time.sleep(stand_in.delay)
                with stand_in.lock:
                    stand_in.sends.append((time.monotonic(), form.get("To", "")))
                now = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
                sid = "SM" + uuid.uuid4().hex
                self._answer(
                    201,
                    {
                        "sid": sid,
                        "account_sid": match.group(1),
                        "api_version": "2010-04-01",
                        "body": form.get("Body", ""),
                        "date_created": now,
                        "date_updated": now,
                        "date_sent": None,
                        "direction": "outbound-api",
                        "from": form.get("From"),
                        "messaging_service_sid": form.get("MessagingServiceSid"),
                        "to": form.get("To", ""),
                        "status": "queued",
                        "num_segments": "1",
                        "num_media": "0",
                        "price": None,
                        "price_unit": "USD",
                        "error_code": None,
                        "error_message": None,
                        "uri": f"/2010-04-01/Accounts/{match.group(1)}/Messages/{sid}.json",
                        "subresource_uris": {},
                    },
                )

            def _answer(self, status: int, doc: dict[str, Any]) -> None:
                raw = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self) -> int:
        with self.lock:
            return len(self.sends)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- the Standard Webhooks reference receiver ----------------------------------------------------


class _ClockedWebhook(Webhook):
    """``standardwebhooks.Webhook`` whose 5-minute timestamp tolerance uses a given clock.

    The walkthrough moves the workers' clock forward; the receiver must share that clock or
    it would (rightly) refuse the timestamps as too new.
    """

    def __init__(self, secret: str, now: Callable[[], dt.datetime]) -> None:
        super().__init__(secret)
        self._now = now

    def _Webhook__verify_timestamp(self, timestamp_header: str) -> dt.datetime:
        try:
            stamp = dt.datetime.fromtimestamp(float(timestamp_header), tz=dt.UTC)
        except ValueError:
            raise WebhookVerificationError("Invalid Signature Headers") from None
        now = self._now()
        if stamp < now - dt.timedelta(minutes=5):
            raise WebhookVerificationError("Message timestamp too old")
        if stamp > now + dt.timedelta(minutes=5):
            raise WebhookVerificationError("Message timestamp too new")
        return stamp


@dataclass
class Received:
    path: str
    webhook_id: str
    payload: dict[str, Any]
    at: float  # monotonic


@dataclass
class WebhookReceiver:
    """Verifies every request with ``standardwebhooks``; one secret per path (agency)."""

    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rejected: int = 0
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        secret = self.secrets.get(path)
        try:
            if secret is None:
                raise WebhookVerificationError("unknown path")
            payload = _ClockedWebhook(secret, self.now).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.rejected += 1
            return 400
        lowered = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            self.received.append(Received(path, lowered["webhook-id"], payload, time.monotonic()))
        return self.status

    def for_path(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- a clock the walkthrough's workers share ----------------------------------------------------


class ClockFile:
    """An offset in seconds, kept in a file that clock-travelling workers read on every tick.

    Only the test-side worker (``tests/e2e/clock_worker.py``) reads it; production code has no
    way to shift its clock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.set(0.0)

    def set(self, seconds: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(repr(float(seconds)))
        tmp.replace(self.path)  # atomic: a reader never sees half a number

    def offset(self) -> float:
        return float(self.path.read_text())

    def advance(self, **delta: float) -> None:
        self.set(self.offset() + dt.timedelta(**delta).total_seconds())

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset())


# --- the stack ----------------------------------------------------------------------------------


@dataclass
class Stack:
    """One Lantern deployment on loopback: database, gunicorn, workers."""

    workdir: Path
    database_url: str
    env: dict[str, str]
    port: int
    app: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    _count: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lantern(self, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
        """Run a ``lantern`` CLI command to completion; its stdout."""
        out = subprocess.run(
            [str(BIN / "lantern"), *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"lantern {args[0]} failed: {out.stderr[-2000:]}")
        return out.stdout

    def start_app(self, processes: int = 2, threads: int = 1) -> None:
        argv = [
            str(BIN / "gunicorn"), "-c", "python:api.gunicorn_conf",
            "-b", f"127.0.0.1:{self.port}", "-w", str(processes),
            "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "10",
            # Longer than gunicorn's 2 s default: a client reusing a connection the server has
            # just closed sees "connection aborted" on a POST it must not retry blindly.
            "--keep-alive", "30", "wsgi:app",
        ]  # fmt: skip
        self.app = spawn("gunicorn", argv, self.env, self.workdir)
        app = self.app

        def up() -> bool:
            if not app.alive():
                raise AssertionError("gunicorn exited:\n" + app.log()[-3000:])
            try:
                return requests.get(self.base + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until("gunicorn /healthz", up, START_TIMEOUT, 0.2)

    def start_worker(self, clock_file: ClockFile | None = None, **env: str) -> Proc:
        """A ``lantern worker``; with ``clock_file``, the clock-travelling test worker."""
        self._count += 1
        if clock_file is None:
            argv = [str(BIN / "lantern"), "worker"]
        else:
            argv = [str(BIN / "python"), "-m", "tests.e2e.clock_worker", str(clock_file.path)]
        proc = spawn(f"worker-{self._count}", argv, {**self.env, **env}, self.workdir)
        self.workers.append(proc)
        return proc

    def logs(self) -> str:
        procs = ([self.app] if self.app else []) + self.workers
        return "\n".join(p.log() for p in procs)

    def stop(self) -> None:
        for proc in [*self.workers, *([self.app] if self.app else [])]:
            proc.stop()


def lantern_env(
    workdir: Path,
    database_url: str,
    port: int,
    *,
    twilio_url: str = "",
    fast_argon2: bool = False,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every Lantern process of one stack (nothing inherited but PATH)."""
    keys = workdir / "keys.json"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "LANTERN_ENV": "development",
        "LANTERN_DATABASE_URL": database_url,
        "LANTERN_INSTANCE_PATH": str(workdir / "instance"),
        "LANTERN_KEYS_FILE": str(keys),
        "LANTERN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LANTERN_WEBHOOK_TIMEOUT_SECONDS": "5",
        "LANTERN_JOB_POLL_SECONDS": "0.2",
        "LANTERN_LOG_LEVEL": "INFO",
        # These stacks (the drills, the bench) drive each account far faster than a person
        # can, to measure throughput and durability: the per-account storage limits, tested
        # on their own in tests/safety_plans and tests/messaging, would turn that into 429s.
        "LANTERN_PLAN_SAVES_PER_MINUTE": "1000000",
        "LANTERN_SURVIVOR_MESSAGES_PER_MINUTE": "1000000",
        "LANTERN_STAFF_MESSAGES_PER_MINUTE": "1000000",
        "LANTERN_JOURNAL_ENTRIES_PER_DAY": "1000000",
    }
    if twilio_url:
        env.update(
            LANTERN_SMS_BACKEND="twilio",
            LANTERN_TWILIO_ACCOUNT_SID=TWILIO_SID,
            LANTERN_TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
            LANTERN_TWILIO_FROM_NUMBER="+15005550006",
            LANTERN_TWILIO_API_BASE_URL=twilio_url,
            LANTERN_TWILIO_REDACT="false",
        )
    if fast_argon2:
        # Said in every report that uses it: cheap hashing, for test speed only.
        env.update(LANTERN_ARGON2_TIME_COST="1", LANTERN_ARGON2_MEMORY_KIB="1024")
    env.update(extra or {})
    return env


def generate_keys(env: Mapping[str, str]) -> None:
    subprocess.run(
        [str(BIN / "lantern"), "keys", "generate", "--file", env["LANTERN_KEYS_FILE"]],
        cwd=ROOT,
        env=dict(env),
        check=True,
        capture_output=True,
        timeout=60,
    )


def build_stack(
    workdir: Path,
    *,
    admin_url: str | None = None,
    twilio_url: str = "",
    fast_argon2: bool = False,
    extra: Mapping[str, str] | None = None,
) -> tuple[Stack, Callable[[], None]]:
    """Database made and migrated, keys generated; nothing started yet. Returns (stack, drop)."""
    workdir.mkdir(parents=True, exist_ok=True)
    url, drop = create_database(admin_url)
    port = free_port()
    env = lantern_env(
        workdir, url, port, twilio_url=twilio_url, fast_argon2=fast_argon2, extra=extra
    )
    generate_keys(env)
    stack = Stack(workdir, url, env, port)
    stack.lantern("db", "upgrade")
    return stack, drop


@dataclass
class Deployment:
    """A stack plus its stand-ins, torn down in reverse order by :func:`deployment`."""

    stack: Stack
    receiver: WebhookReceiver
    twilio: TwilioStandIn | None
    workdir: Path


def allowlist(receiver_base: str, extra: Mapping[str, str] | None = None) -> str:
    """``LANTERN_WEBHOOK_ALLOWLIST`` opening the receiver at ``receiver_base`` (an
    ``http://127.0.0.1:PORT`` URL), plus any entries ``extra`` already names."""
    entries = [receiver_base.split("//", 1)[1]]
    if extra and extra.get("LANTERN_WEBHOOK_ALLOWLIST"):
        entries.append(extra["LANTERN_WEBHOOK_ALLOWLIST"])
    return ",".join(entries)


def make_workdir(prefix: str = "lantern-e2e-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


@contextlib.contextmanager
def deployment(
    *,
    twilio_url: str | None = None,
    twilio_delay: float = 0.2,
    fast_argon2: bool = True,
    app_processes: int = 2,
    app_threads: int = 1,
    workers: int = 1,
    receiver_now: Callable[[], dt.datetime] | None = None,
    clock_file: ClockFile | None = None,
    admin_url: str | None = None,
    extra: Mapping[str, str] | None = None,
    workdir: Path | None = None,
) -> Iterator[Deployment]:
    """A running deployment, for a ``with`` block; everything is stopped and dropped after.

    ``twilio_url=None`` starts the in-process Twilio stand-in with ``twilio_delay``.
    """
    workdir = workdir or make_workdir()
    receiver = WebhookReceiver(now=receiver_now or (lambda: dt.datetime.now(dt.UTC)))
    # The receiver's own port, and no other port of loopback, may be a webhook target.
    extra = {**(extra or {}), "LANTERN_WEBHOOK_ALLOWLIST": allowlist(receiver.start(), extra)}
    twilio = None
    if twilio_url is None:
        twilio = TwilioStandIn(delay=twilio_delay)
        twilio_url = twilio.start()
    drop: Callable[[], None] | None = None
    stack: Stack | None = None
    try:
        stack, drop = build_stack(
            workdir, admin_url=admin_url, twilio_url=twilio_url, fast_argon2=fast_argon2,
            extra=extra,
        )  # fmt: skip
        stack.start_app(app_processes, app_threads)
        for _ in range(workers):
            stack.start_worker(clock_file)
        yield Deployment(stack, receiver, twilio, workdir)
    finally:
        if stack is not None:
            stack.stop()
        if drop is not None:
            drop()
        receiver.stop()
        if twilio is not None:
            twilio.stop()
        if not os.environ.get("LANTERN_E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def random_password() -> str:
    """A strong staff password (zxcvbn must like it)."""
    return "Lantern-" + secrets.token_urlsafe(18)
