"""E-mail over SMTP: text and HTML parts (Jinja2), the session's .ics, one-click unsubscribe.

The outbox's idempotency key is the Message-ID (`<key@cicatrix>`) and an `X-Idempotency-Key`
header, so a message re-sent after a worker died between handing it to the server and marking
it sent is the same message to every system that deduplicates (a provider's API, a mail store
keyed on Message-ID, the test sink). One connection is reused across a batch.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate
from functools import lru_cache
from typing import Literal

from jinja2 import Environment, PackageLoader, select_autoescape

from cicatrix.messaging.outgoing import Outgoing, Permanent, Transient

Security = Literal["starttls", "tls", "none"]
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in any mail source view; 8-bit safe over every relay
_WIRE = compat32.clone(linesep="\r\n")  # SMTP's line ends (smtplib sends bytes as they are)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: Security = "starttls"
    user: str | None = None
    password: str | None = None
    sender: str = "noreply@localhost"
    timeout_s: float = 20.0


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("cicatrix.messaging", "templates"),
        autoescape=select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
    )


def message_id(key: str) -> str:
    return f"<{key}@cicatrix>"


def compose(message: Outgoing, sender: str) -> bytes:
    """The MIME message as sent: text and HTML alternatives of the same rendered body, the
    attachments, and List-Unsubscribe with RFC 8058 one-click when an opt-out URL is given.

    Built with the `compat32` classes and flattened once: the default policy's header objects
    cost several times more, which matters at thousands of messages a minute."""
    env = _templates()
    values = {"subject": message.subject, "body": message.text, "clinic": message.sender_name,
              "unsubscribe": message.unsubscribe}  # fmt: skip
    alternative = MIMEMultipart("alternative")
    # MIMEText takes a Charset as well as a name (its quoted-printable setting is the point)
    alternative.attach(MIMEText(env.get_template("email.txt.j2").render(values), "plain", _UTF8))  # type: ignore[arg-type]
    alternative.attach(MIMEText(env.get_template("email.html.j2").render(values), "html", _UTF8))  # type: ignore[arg-type]
    if message.attachments:
        mail: MIMEMultipart = MIMEMultipart("mixed")
        mail.attach(alternative)
        for a in message.attachments:
            maintype, _, rest = a.mime.partition("/")
            subtype, _, params = rest.partition(";")
            extra = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
            part = MIMEBase(maintype, subtype.strip())
            for name, value in extra.items():
                part.set_param(name, value)
            part.set_payload(a.data)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=a.filename)
            mail.attach(part)
    else:
        mail = alternative
    mail["Subject"] = Header(message.subject, "utf-8").encode() if not message.subject.isascii() else message.subject
    mail["From"] = formataddr((message.sender_name, sender), "utf-8") if message.sender_name else sender
    mail["To"] = message.to
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message.key)
    mail["X-Idempotency-Key"] = message.key
    mail["Auto-Submitted"] = "auto-generated"
    if message.unsubscribe:
        mail["List-Unsubscribe"] = f"<{message.unsubscribe}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return mail.as_bytes(policy=_WIRE)


class SmtpProvider:
    """SMTP with the clinic's settings; the connection stays open between messages of a batch."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        try:
            if c.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s,
                                                      context=ssl.create_default_context())  # fmt: skip
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
                if c.security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            if c.user:
                conn.login(c.user, c.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise Permanent(f"smtp auth {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Transient(f"smtp connect {type(exc).__name__}") from None
        return conn

    def send(self, message: Outgoing) -> str:
        mail = compose(message, self.config.sender)
        sender = self.config.sender
        for attempt in (1, 2):  # a pooled connection the server closed: reconnect once
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = self._conn.sendmail(sender, [message.to], mail)
            except smtplib.SMTPServerDisconnected:
                self._conn = None
                if attempt == 2:
                    raise Transient("smtp disconnected") from None
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                codes = {code for code, _ in exc.recipients.values()}
                if all(400 <= c < 500 for c in codes):
                    raise Transient(f"smtp {min(codes)}") from None
                raise Permanent(f"smtp {max(codes)} recipient refused") from None
            except smtplib.SMTPResponseException as exc:
                self.close()
                if 400 <= exc.smtp_code < 500:
                    raise Transient(f"smtp {exc.smtp_code}") from None
                raise Permanent(f"smtp {exc.smtp_code}") from None
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                raise Transient(f"smtp {type(exc).__name__}") from None
            if refused:
                raise Permanent("smtp recipient refused")
            return message_id(message.key)
        raise Transient("smtp disconnected")  # pragma: no cover - the loop returns or raises

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException, socket.timeout):
                self._conn.quit()
            self._conn = None
