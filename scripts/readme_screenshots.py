#!/usr/bin/env python3
"""Copy the README's screenshots from the campaign walk to `docs/screenshots/`, small.

`tests/e2e/test_campaign_walk.py` saves every page it passes through under
`var/screenshots/walk/` (full pages, the phone's at twice its pixels). This script keeps the
README's choice: the phone's pages back at the phone's own width, the desktop's cut to their
first screens and narrowed, each quantized to a 64-colour palette so that a page weighs tens of
kilobytes, not hundreds.

    python -m pytest tests/e2e/test_campaign_walk.py     # writes var/screenshots/walk/
    python scripts/readme_screenshots.py                 # writes docs/screenshots/

Pillow only (installed with the test dependencies).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "var" / "screenshots" / "walk"
TARGET = ROOT / "docs" / "screenshots"
# name in var/screenshots/walk → (width kept, height kept at most), in the README's order.
CHOSEN = {
    "telephone-apprenant-offres": (390, 1000),
    "telephone-apprenant-candidatures": (390, 1000),
    "ordinateur-employeur-candidatures": (1000, 800),
    "ordinateur-employeur-candidature": (1000, 900),
    "ordinateur-agent-a-traiter": (1000, 700),
    "ordinateur-agent-dossier": (1000, 900),
    "ordinateur-agent-fil": (1000, 900),
    "telephone-apprenant-signature": (390, 1100),
    "ordinateur-institut-espace": (1000, 800),
    "telephone-apprenant-paiements": (390, 1100),
}


def shrink(source: Path, target: Path, width: int, height: int) -> int:
    image = Image.open(source).convert("RGB")
    scale = width / image.width
    image = image.resize((width, round(image.height * scale)), Image.Resampling.LANCZOS)
    image = image.crop((0, 0, width, min(height, image.height)))
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target.stat().st_size


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    missing = [name for name in CHOSEN if not (SOURCE / f"{name}.png").exists()]
    if missing:
        print(f"Captures absentes (lancez d'abord le test) : {', '.join(missing)}", file=sys.stderr)
        return 1
    for name, (width, height) in CHOSEN.items():
        size = shrink(SOURCE / f"{name}.png", TARGET / f"{name}.png", width, height)
        print(f"{name}.png : {size // 1024} Ko")
    return 0


if __name__ == "__main__":
    sys.exit(main())
