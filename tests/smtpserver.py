"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd), keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Handler:
    def __init__(self, server: LocalSmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.server.rcpt_reply:
            return self.server.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.messages.append(message)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalSmtpServer:
    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.port = free_port()
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[Any, list[str]]] = []
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> LocalSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
