"""The loopback SMTP sink as a process of its own, for tests and benches that run workers as
processes: it appends each received Message-ID to a file, one per line, so the reader counts raw
deliveries (lines) and distinct messages (a set of lines) as a provider deduplicating on the
idempotency key would. Run: python -m tests.messaging.sink_process PORT FILE"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.parser = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = self.parser.parsebytes(envelope.content)
        self.out.write(f"{headers['Message-ID']}\n")
        self.out.flush()
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), Path(sys.argv[2])
    with path.open("a", buffering=1) as out:
        controller = Controller(_Handler(out), hostname="127.0.0.1", port=port)
        controller.start()
        print("ready", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        controller.stop()


class SinkProcess:
    def __init__(self, port: int, path: Path) -> None:
        self.port, self.path = port, path
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> SinkProcess:
        self.path.touch()
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.messaging.sink_process", str(self.port),
                                      str(self.path)], cwd=root, stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def received(self) -> list[str]:
        return self.path.read_text().splitlines()

    def raw(self) -> int:
        with self.path.open("rb") as f:
            return sum(1 for _ in f)

    def env(self) -> dict[str, str]:
        return {"CICATRIX_SMTP_HOST": "127.0.0.1", "CICATRIX_SMTP_PORT": str(self.port),
                "CICATRIX_SMTP_SECURITY": "none", "CICATRIX_SMTP_FROM": "clinic@example.com"}  # fmt: skip


if __name__ == "__main__":
    main()
    time.sleep(0)
