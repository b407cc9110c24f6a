"""Sending mail over SMTP with the standard library (SPEC §6). Errors are sorted into transient
(try again later: 4xx, connection refused, timeout) and permanent (5xx: give up); among the
transient ones, `ServerUnreachable` says no SMTP session could be opened at all (refused, timed
out, TLS or sign-in refused), which is no message's fault: a sender stops there.

No `FIDELIS_SMTP_HOST`, no SMTP: `smtp_settings_from_env()` gives None and nothing is tried."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from workflow.errors import FidelisError

MAX_ATTEMPTS = 8
_DELAYS_MINUTES = (1, 5, 15, 60, 240)
_CAP = timedelta(hours=6)


class MailError(FidelisError):
    pass


class TransientMailError(MailError):
    pass


class PermanentMailError(MailError):
    pass


class ServerUnreachable(TransientMailError):
    pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str = "Fidelis <ne-pas-repondre@fidelis.local>"
    timeout: float = 30


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def smtp_settings_from_env() -> SmtpSettings | None:
    """The SMTP server of the environment, or None when `FIDELIS_SMTP_HOST` is not set."""
    env = os.environ

    def flag(name: str) -> bool:
        return env.get(name, "").lower() in ("1", "true", "yes", "oui")

    host = env.get("FIDELIS_SMTP_HOST", "").strip()
    if not host:
        return None
    return SmtpSettings(
        host=host,
        port=int(env.get("FIDELIS_SMTP_PORT", "25")),
        username=env.get("FIDELIS_SMTP_USER") or None,
        password=env.get("FIDELIS_SMTP_PASSWORD") or None,
        starttls=flag("FIDELIS_SMTP_STARTTLS"),
        ssl=flag("FIDELIS_SMTP_SSL"),
        sender=env.get("FIDELIS_SMTP_SENDER", SmtpSettings.sender),
    )


def retry_delay(attempt: int) -> timedelta:
    """1 min, 5, 15, 60, 240, then 6 h: exponential backoff with a cap."""
    if attempt <= len(_DELAYS_MINUTES):
        return timedelta(minutes=_DELAYS_MINUTES[max(attempt, 1) - 1])
    return _CAP


def build(settings: SmtpSettings, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    for name, value in message.headers.items():
        mail[name] = value
    if "Message-ID" not in mail:
        mail["Message-ID"] = make_msgid(domain="fidelis.local")
    mail.set_content(message.text, charset="utf-8")
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail


def _why(exc: BaseException) -> str:
    """Why a session could not be opened, in French (the system's own text is English)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "identifiants refusés"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"réponse {exc.smtp_code} du serveur"
    if isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError):
        return "échec du chiffrement TLS"
    if isinstance(exc, socket.gaierror):
        return "nom de serveur inconnu"
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée"
    if isinstance(exc, TimeoutError):
        return "délai dépassé"
    return "erreur réseau"


def _session(settings: SmtpSettings) -> smtplib.SMTP:
    """An open SMTP session (TLS and sign-in done), or ServerUnreachable."""
    smtp_class = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    where = f"{settings.host}:{settings.port}"
    try:
        smtp = smtp_class(settings.host, settings.port, timeout=settings.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        raise ServerUnreachable(f"serveur SMTP {where} injoignable ({_why(exc)})") from None
    try:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise ServerUnreachable(f"serveur SMTP {where} inutilisable ({_why(exc)})") from None
    return smtp


def send(settings: SmtpSettings, message: Message) -> str:
    """Send one message; return its Message-ID."""
    mail = build(settings, message)
    smtp = _session(settings)
    try:
        with smtp:
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        error = f"destinataire refusé ({', '.join(map(str, codes))})"
        raise (TransientMailError if all(400 <= c < 500 for c in codes) else PermanentMailError)(
            error
        ) from None
    except smtplib.SMTPResponseException as exc:
        kind = TransientMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
        raise kind(f"serveur SMTP : {exc.smtp_code} {exc.smtp_error!r}") from None
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        raise TransientMailError(f"envoi interrompu par le serveur SMTP : {exc}") from None
    return str(mail["Message-ID"])


__all__ = [
    "MAX_ATTEMPTS",
    "Message",
    "PermanentMailError",
    "ServerUnreachable",
    "SmtpSettings",
    "TransientMailError",
    "retry_delay",
    "send",
    "smtp_settings_from_env",
]
