"""Files Fidelis writes for people (exports, SEPA transfers): they appear complete or not at all,
and a file that cannot be written is a French error, before anything is marked done.

`atomic_path(path)` gives a temporary path in the target's own folder (so that the final rename
is atomic), renamed to `path` when the block succeeds and removed when it fails. Whatever marks
the file as delivered (a SEPA batch, exported payments) is committed inside the block, after
the file was written: a failed write commits nothing, and only a rename — within one folder —
is left after the commit."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workflow.errors import InvalidInput

__all__ = ["atomic_path", "check_target", "write_file"]

_REASONS = {
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque dépassé",
    errno.EACCES: "accès refusé",
    errno.EPERM: "accès refusé",
    errno.EROFS: "disque en lecture seule",
    errno.ENAMETOOLONG: "nom trop long",
}


def _reason(exc: OSError) -> str:
    """The system's reason in French (its own text is English)."""
    return _REASONS.get(exc.errno or 0, "erreur d'écriture")


def check_target(path: Path) -> Path:
    """The folder `path` would be written in; a French error when it cannot be a new file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInput(f"Dossier inexistant : « {folder} ».", "file")
    if path.is_dir():
        raise InvalidInput(f"« {path} » est un dossier : indiquez un nom de fichier.", "file")
    return folder


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to `path`, renamed to it when the block succeeds and removed when
    it fails: a failed write leaves nothing behind, not even a partial file."""
    folder = check_target(path)
    try:
        handle, temp_name = tempfile.mkstemp(dir=folder, prefix=".fidelis-", suffix=path.suffix)
    except OSError as exc:
        raise InvalidInput(
            f"Impossible d'écrire dans « {folder} » ({_reason(exc)}) : rien n'a été enregistré.",
            "file",
        ) from None
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        # mkstemp makes the file private (0600): give it the usual permissions of a new file.
        mask = os.umask(0)
        os.umask(mask)
        temp.chmod(0o666 & ~mask)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` and flush it to the disk; a failure is a French InvalidInput."""
    try:
        path.write_bytes(data)
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    except OSError as exc:
        raise InvalidInput(
            f"Impossible d'écrire « {path.name} » ({_reason(exc)}) : rien n'a été enregistré.",
            "file",
        ) from None
