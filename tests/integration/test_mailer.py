"""The mailer against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.smtpserver import LocalSmtpServer, free_port
from workflow.mailer import Message, PermanentMailError, SmtpSettings, TransientMailError, send


def test_messages_are_received_and_readable() -> None:
    server = LocalSmtpServer().start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=server.port)
        message_id = send(settings, Message("lea@exemple.fr", "Relevé — septembre 2026",
                                            "Bonjour Léa,\nvoici votre relevé : 120,00 €.",
                                            html="<p>Bonjour Léa</p>"))  # fmt: skip
        send(settings, Message("ehpad@exemple.fr", "Échéance", "Texte"))
    finally:
        server.stop()
    first, second = server.messages
    assert first["Subject"] == "Relevé — septembre 2026"
    assert first["To"] == "lea@exemple.fr" and first["Message-ID"] == message_id
    plain = first.get_body(preferencelist=("plain",))
    html = first.get_body(preferencelist=("html",))
    assert plain is not None and "120,00 €" in plain.get_content()
    assert html is not None and "<p>Bonjour Léa</p>" in html.get_content()
    assert second["Subject"] == "Échéance"
    assert server.envelopes[1][1] == ["ehpad@exemple.fr"]


@pytest.mark.parametrize(
    ("rcpt", "data", "error"),
    [("451 Try later", None, TransientMailError), ("550 No such user", None, PermanentMailError),
     (None, "452 Out of space", TransientMailError)],
)  # fmt: skip
def test_errors_are_sorted_transient_or_permanent(
    rcpt: str | None, data: str | None, error: type[Exception]
) -> None:
    server = LocalSmtpServer(rcpt_reply=rcpt, data_reply=data).start()
    try:
        with pytest.raises(error):
            send(
                SmtpSettings(host="127.0.0.1", port=server.port), Message("a@exemple.fr", "s", "t")
            )
    finally:
        server.stop()
    assert server.messages == []


def test_nothing_listening_is_transient() -> None:
    with pytest.raises(TransientMailError):
        send(
            SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2), Message("a@b.fr", "s", "t")
        )
