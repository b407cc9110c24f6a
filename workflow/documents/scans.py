"""What a signed scan may be (issue 14): a PDF or an image, known by its first bytes — its
"magic number" — rather than by its name, and no larger than SCAN_MAX_BYTES. The stored file
is named after what it is (`.pdf`, `.png`, `.jpg`, `.tif`), whatever it was called."""

from __future__ import annotations

from collections.abc import Mapping

from workflow.errors import InvalidInput

SCAN_MAX_BYTES = 20 * 1024 * 1024  # a scan of a few pages, not an archive

# First bytes of each accepted format, and the suffix the stored file takes.
SIGNATURES: Mapping[bytes, str] = {
    b"%PDF-": ".pdf",
    b"\x89PNG\r\n\x1a\n": ".png",
    b"\xff\xd8\xff": ".jpg",
    b"II*\x00": ".tif",  # TIFF, little-endian
    b"MM\x00*": ".tif",  # TIFF, big-endian
}


def _suffix(content: bytes, name: str, max_bytes: int, what: str) -> str:
    """The suffix of the format `content` is in; InvalidInput (French) for an empty, too large
    or unknown file. `what` ends the refusal: how such a file is sent."""
    if not content:
        raise InvalidInput(f"Le fichier {name} est vide.", "file")
    if len(content) > max_bytes:
        raise InvalidInput(f"Le fichier {name} dépasse {max_bytes // (1024 * 1024)} Mo.", "file")
    for magic, suffix in SIGNATURES.items():
        if content.startswith(magic):
            return suffix
    raise InvalidInput(
        f"Le fichier {name} n'est ni un PDF ni une image (PNG, JPEG, TIFF) : {what} "
        "dans l'un de ces formats.",
        "file",
    )


def scan_suffix(content: bytes, name: str) -> str:
    """The suffix of a signed contract's scan."""
    return _suffix(content, name, SCAN_MAX_BYTES, "le contrat signé se joint scanné")


# A message's attachment (workflow.threads): an RIB, an identity document, a diploma, an
# attestation — the same formats, a smaller bound (a phone's photo or a PDF of a few pages).
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def attachment_suffix(content: bytes, name: str) -> str:
    """The suffix of a message's attachment."""
    return _suffix(content, name, ATTACHMENT_MAX_BYTES, "une pièce jointe s'envoie")


__all__ = ["ATTACHMENT_MAX_BYTES", "SCAN_MAX_BYTES", "attachment_suffix", "scan_suffix"]
