#!/usr/bin/env python
"""Open a sweep's report.html in headless Chromium and save a PNG screenshot.

Usage::

    python scripts/screenshot_report.py results/demo/<time>            # -> <sweep>/report.png
    python scripts/screenshot_report.py results/demo/<time> --out docs/report.png --height 3000

Builds ``report.html`` first when the sweep has none (``--rebuild`` forces it).
Needs Debian's ``chromium`` package (``apt-get install chromium``); without a
Chromium binary it prints why and exits with status 0 (``--strict``: 3), so CI
without a browser skips cleanly. Chromium runs with networking features off and
a throwaway profile; the page itself fetches nothing.

The PNG is palette-quantized when Pillow is available, to keep it small.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SKIP = 0


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary ($CHROMIUM first), or None."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(
    html: Path, png: Path, width: int = 1400, height: int = 3000, timeout: float = 120, chromium: str | None = None
) -> Path:
    """Render ``html`` in headless Chromium into ``png`` (width x height CSS pixels).

    Raises:
        FileNotFoundError: no Chromium binary, or ``html`` is missing.
        RuntimeError: Chromium ran but wrote no PNG (its stderr is in the message).
    """
    html = Path(html).resolve()
    if not html.is_file():
        raise FileNotFoundError(f"{html} does not exist")
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium binary on PATH (apt-get install chromium)")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    if png.exists():
        png.unlink()
    with tempfile.TemporaryDirectory(prefix="tailbench-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            html.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    _shrink(png)
    return png


def _shrink(png: Path) -> None:
    """Quantize to a 256-colour palette (Pillow, if installed); keeps the file if that fails."""
    try:
        from PIL import Image
    except ImportError:
        return
    try:
        img = Image.open(png).convert("RGB")
        img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
    except Exception:  # noqa: BLE001 - the unshrunk screenshot is still valid
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path, help="sweep directory (holds report.html or run dirs)")
    ap.add_argument("--out", type=Path, default=None, help="PNG path (default <sweep_dir>/report.png)")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--rebuild", action="store_true", help="rebuild report.html before the screenshot")
    ap.add_argument("--strict", action="store_true", help="exit 3 instead of 0 when chromium is absent")
    args = ap.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print(
            "screenshot_report: skipped, no chromium binary on PATH (Debian: apt-get install chromium)", file=sys.stderr
        )
        return 3 if args.strict else SKIP
    html = args.sweep_dir / "report.html"
    if args.rebuild or not html.exists():
        from bench.report.build import build_reports

        build_reports(args.sweep_dir, quiet=True)
    out = args.out or (args.sweep_dir / "report.png")
    png = screenshot(html, out, args.width, args.height, chromium=chromium)
    print(f"{png} ({png.stat().st_size / 1024:.0f} KB, {args.width}x{args.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
