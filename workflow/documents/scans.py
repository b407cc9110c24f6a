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


def scan_suffix(content: bytes, name: str) -> str:
    """The suffix of the format `content` is in; InvalidInput (French) for an empty, too large
    or unknown file."""
    if not content:
        raise InvalidInput(f"Le fichier {name} est vide.", "file")
    if len(content) > SCAN_MAX_BYTES:
        raise InvalidInput(
            f"Le fichier {name} dépasse {SCAN_MAX_BYTES // (1024 * 1024)} Mo.", "file"
        )
    for magic, suffix in SIGNATURES.items():
        if content.startswith(magic):
            return suffix
    raise InvalidInput(
        f"Le fichier {name} n'est ni un PDF ni une image (PNG, JPEG, TIFF) : le contrat signé "
        "se joint scanné dans l'un de ces formats.",
        "file",
    )


# A message's attachment (workflow.threads): an RIB, an identity document, a diploma, an
# attestation — the same formats, a smaller bound (a phone's photo or a PDF of a few pages).
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


def attachment_suffix(content: bytes, name: str) -> str:
    """The suffix of a message's attachment; InvalidInput (French) for an empty, too large or
    unknown file."""
    if not content:
        raise InvalidInput(f"Le fichier {name} est vide.", "file")
    if len(content) > ATTACHMENT_MAX_BYTES:
        raise InvalidInput(
            f"Le fichier {name} dépasse {ATTACHMENT_MAX_BYTES // (1024 * 1024)} Mo.", "file"
        )
    for magic, suffix in SIGNATURES.items():
        if content.startswith(magic):
            return suffix
    raise InvalidInput(
        f"Le fichier {name} n'est ni un PDF ni une image (PNG, JPEG, TIFF) : une pièce jointe "
        "s'envoie dans l'un de ces formats.",
        "file",
    )


__all__ = ["ATTACHMENT_MAX_BYTES", "SCAN_MAX_BYTES", "attachment_suffix", "scan_suffix"]
