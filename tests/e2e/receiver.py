"""A stand-alone Standard Webhooks reference receiver (the README walkthrough's "police").

Usage: python -m tests.e2e.receiver PORT SECRET_FILE OUT_FILE [CLOCK_FILE]

Verifies every POST with the ``standardwebhooks`` package against the secret in SECRET_FILE
(re-read on each request, so it can be written after the receiver starts), answers 400 to
anything that does not verify, and appends each verified delivery to OUT_FILE as one JSON line
``{"webhook_id": ..., "payload": ...}``. CLOCK_FILE (optional) holds the clock offset the
walkthrough test gives its workers (see ``harness.ClockFile``). Stops on SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
from pathlib import Path

from tests.e2e.harness import WebhookReceiver


def main() -> None:
    port, secret_file, out_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    clock_file = Path(sys.argv[4]) if len(sys.argv) > 4 else None

    def now() -> dt.datetime:
        offset = float(clock_file.read_text()) if clock_file else 0.0
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)

    class FileReceiver(WebhookReceiver):
        def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
            if secret_file.exists():
                self.secrets[path] = secret_file.read_text().strip()
            before = len(self.received)
            status = super().handle(path, headers, body)
            if len(self.received) > before:
                hit = self.received[-1]
                with out_file.open("a") as out:
                    out.write(json.dumps({"webhook_id": hit.webhook_id, "payload": hit.payload}))
                    out.write("\n")
            return status

    receiver = FileReceiver(now=now)
    receiver.start(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    receiver.stop()


if __name__ == "__main__":
    main()
