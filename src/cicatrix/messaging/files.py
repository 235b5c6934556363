"""The development channel: each message is written to a folder instead of being sent.

`make run` and `cicatrix serve --demo` use it when no SMTP server or SMS provider is
configured; the clinic's Messages page lists what was "sent". The file is named after the
idempotency key, so a message delivered twice is one file: the folder deduplicates exactly as a
provider with idempotency keys does.
"""

from __future__ import annotations

import os
from pathlib import Path

from cicatrix.messaging.email import compose
from cicatrix.messaging.outgoing import Outgoing, Transient


class FileProvider:
    def __init__(self, folder: Path, sender: str = "noreply@localhost") -> None:
        self.folder = folder
        self.sender = sender

    def send(self, message: Outgoing) -> str:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if message.channel == "email":
                name, data = f"{message.key}.eml", compose(message, self.sender)
            else:
                name, data = f"{message.key}.sms.txt", f"To: {message.to}\n\n{message.text}\n".encode()
            tmp = self.folder / f".{name}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # health data: owner only
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            tmp.replace(self.folder / name)
        except OSError as exc:
            raise Transient(f"file {type(exc).__name__}") from None
        return name

    def close(self) -> None:
        pass
