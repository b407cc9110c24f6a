"""Vendor the State's design system (DSFR, npm package @gouvfr/dsfr) into
workflow/web/static/dsfr-VERSION/: the minified stylesheet, the module and nomodule scripts, the
fonts and icons that stylesheet refers to (bar the social networks' logos, which no page shows),
the favicon and the licence. Usage: `python scripts/vendor_dsfr.py 1.15.3` (needs npm); then
change the version in templates/web/base.html and delete the old directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "workflow" / "web" / "static"
FILES = ["dsfr.min.css", "dsfr.module.min.js", "dsfr.nomodule.min.js",
         "favicon/favicon.svg", "favicon/favicon.ico", "favicon/apple-touch-icon.png"]  # fmt: skip
UNUSED = ("icons/logo/",)


def main(version: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"@gouvfr/dsfr@{version}"], cwd=tmp, check=True)
        with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
            tar.extractall(tmp, filter="data")
        package = Path(tmp) / "package"
        dist = package / "dist"
        css = (dist / "dsfr.min.css").read_text(encoding="utf-8")
        refs = sorted(set(re.findall(r"url\(((?:fonts|icons)/[^)\"']+)\)", css)))
        target = STATIC / f"dsfr-{version}"
        shutil.rmtree(target, ignore_errors=True)
        for name in FILES + [r for r in refs if not r.startswith(UNUSED)]:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dist / name, target / name)
        shutil.copyfile(package / "LICENSE.md", target / "LICENSE.md")
    print(f"{target}: {sum(1 for p in target.rglob('*') if p.is_file())} fichiers")


if __name__ == "__main__":
    main(sys.argv[1])
