"""The document store: files kept under their SHA-256, written once, never changed (SPEC §5).

Content addressing makes immutability structural: a file's name is its hash, a new version is a
new file, and `read` checks the hash again so a file altered on disk is noticed."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from workflow.errors import FidelisError


class DocumentTampered(FidelisError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"Le fichier {path} ne correspond plus à son empreinte SHA-256 : il a été modifié."
        )


@dataclass(frozen=True)
class Stored:
    path: str  # relative to the store's root
    sha256: str
    size: int


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes, suffix: str) -> Stored:
        digest = hashlib.sha256(content).hexdigest()
        relative = f"{digest[:2]}/{digest}{suffix}"
        target = self.root / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write aside then rename: a crash never leaves a half-written file under the name.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, 0o444)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return Stored(relative, digest, len(content))

    def read(self, relative: str, sha256: str) -> bytes:
        path = self.root / relative
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise DocumentTampered(path)
        return content


__all__ = [
    "DocumentStore",
]
