"""The README's figures of a verify run, generated from that run's JSON report.

    python -m verify --quick --report-dir report/
    python scripts/readme_figures.py report/report.json --write    # rewrite the README block
    python scripts/readme_figures.py report/report.json --check    # CI: fail if it disagrees

The block between ``<!-- verify-run:begin -->`` and ``<!-- verify-run:end -->`` is written
from the report alone (never by hand).  ``--check`` compares what must not drift between runs
of the same commit and options: the number of checks per group, the iterations, the golden
file; timings and the date are not compared (they move with the machine).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- verify-run:begin -->", "<!-- verify-run:end -->"


def _fmt_seconds(s: float) -> str:
    m, sec = divmod(round(s), 60)
    return f"{m} min {sec} s" if m else f"{sec} s"


def block(report: dict) -> str:
    env, summ = report["environment"], report["summary"]
    groups = Counter(c["group"] for c in report["checks"])
    per_group = ", ".join(f"{g} {n}" for g, n in sorted(groups.items()))
    mode = "--quick" if env.get("quick") else "defaults"
    lines = [
        BEGIN,
        f"`python -m verify` ({mode}, {env['iters']:,} training iterations, data: "
        f"{env['data'].split(' from ')[0]}) on {env.get('machine', '?')} with "
        f"{env.get('cpu_count', '?')} cores, nnparity {report['producer']['version']} "
        f"({report['producer']['commit']}): **{summ['passed']} of {summ['total']} checks "
        f"passed** in {_fmt_seconds(summ['seconds'])} (by group: {per_group}).",
        f"Golden trajectory: {env.get('golden', 'not recorded')}.",
        END,
    ]
    return "\n".join(lines)


def _stable(text: str) -> dict:
    """What --check compares: counts, iterations, data kind and golden file, not times."""
    counts = re.search(r"\*\*(\d+) of (\d+) checks passed\*\*", text)
    groups = re.search(r"by group: ([^)]*)\)", text)
    iters = re.search(r"([\d,]+) training iterations", text)
    golden = re.search(r"Golden trajectory: (\S+)", text)
    return {"counts": counts.groups() if counts else None,
            "groups": groups.group(1) if groups else None,
            "iters": iters.group(1) if iters else None,
            "golden": golden.group(1) if golden else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path, help="a verify JSON report (report.json)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the README block")
    mode.add_argument("--check", action="store_true", help="exit 1 if the README disagrees")
    p.add_argument("--readme", type=Path, default=README)
    args = p.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    text = args.readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        p.error(f"{args.readme}: no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    new = block(report)
    if args.write:
        from reference_numpy._atomic import atomic_write

        atomic_write(args.readme, lambda f: f.write((head + new + tail).encode("utf-8")))
        print(f"{args.readme}: verify block rewritten from {args.report}")
        return 0
    want, got = _stable(new), _stable(BEGIN + old + END)
    if want != got:
        print(f"{args.readme}: the verify block disagrees with {args.report}:\n"
              f"  README: {got}\n  run:    {want}\n"
              f"regenerate it: python scripts/readme_figures.py {args.report} --write",
              file=sys.stderr)
        return 1
    print(f"{args.readme}: verify block agrees with {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
