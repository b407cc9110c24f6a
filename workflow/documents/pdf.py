"""PDF copies of the Word documents, with LibreOffice headless (SPEC §5: "where installed"), as
PDF/A-3b: what the parties of a contract read and sign (issue 16).

Each conversion runs `soffice --headless --convert-to pdf` with its own throw-away profile
folder (`-env:UserInstallation=file:///tmp/…`): two conversions at once do not fight over one
profile lock, and a crashed run leaves no stale profile behind. The process runs in its own
process group, killed as a whole when it overruns the timeout (soffice starts child processes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from workflow.documents.render import DocumentError

__all__ = ["LibreOfficeMissing", "find_soffice", "to_pdf"]

_EXECUTABLES = ("soffice", "libreoffice")
_TAIL = 2000


class LibreOfficeMissing(DocumentError):
    def __init__(self) -> None:
        super().__init__(
            "LibreOffice est introuvable (ni « soffice » ni « libreoffice » dans le PATH) : "
            "la copie PDF ne peut pas être produite. Installez-le, par exemple avec "
            "« apt-get install --no-install-recommends libreoffice-writer », "
            "ou demandez le document au format Word."
        )


def find_soffice() -> str:
    """The LibreOffice executable on PATH; raises LibreOfficeMissing."""
    for name in _EXECUTABLES:
        found = shutil.which(name)
        if found:
            return found
    raise LibreOfficeMissing()


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text[-_TAIL:]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def to_pdf(docx: Path, out_dir: Path, timeout: float = 120) -> Path:
    """Convert `docx` to `out_dir/<same name>.pdf` and return that path.

    Raises LibreOfficeMissing when LibreOffice is not installed, DocumentError when the
    conversion fails or takes longer than `timeout` seconds (the messages end with the tail of
    LibreOffice's output)."""
    executable = find_soffice()
    source = docx.resolve()
    if not source.is_file():
        raise DocumentError(f"Document à convertir introuvable : {docx}")
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{source.stem}.pdf"
    target.unlink(missing_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="fidelis-lo-profile-"))
    command = [
        executable,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--invisible",
        "--norestore",
        "--nologo",
        "--nodefault",
        "--convert-to",
        # PDF/A-3b (SelectPdfVersion 3): fonts embedded, fit to keep, sealable, and it may carry
        # the evidence the seal attaches as JSON (PDF/A-2 allows only PDF/A attachments).
        'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"3"}}',
        "--outdir",
        str(out_dir),
        str(source),
    ]
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, killed as a whole
            env={**os.environ, "HOME": str(profile)},
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise DocumentError(
                f"La conversion PDF de {source.name} a dépassé {timeout:g} s : LibreOffice a été "
                "arrêté."
            ) from None
        except BaseException:
            _kill_group(process)
            raise
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if process.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        output = _tail(stderr) or _tail(stdout) or "(aucune sortie)"
        raise DocumentError(
            f"La conversion PDF de {source.name} a échoué (code {process.returncode}) : {output}"
        )
    return target
