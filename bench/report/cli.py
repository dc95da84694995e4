"""``tailbench-report <sweep dir>``: re-aggregate a finished or partial sweep and rebuild its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.report.build import build_reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tailbench-report",
        description="Aggregate a tailbench sweep directory into summary.parquet, comparison.csv "
        "and comparison.md, write report.html and report.md, and print the comparison table.",
    )
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun directory under results/")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print the table")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"tailbench-report: {str(args.sweep_dir)!r} is not a directory", file=sys.stderr)
        return 2
    build_reports(args.sweep_dir, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
