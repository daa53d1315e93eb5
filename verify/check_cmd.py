"""``nnparity check PATH`` / ``python -m verify check PATH``: check a user's whole implementation.

PATH is a ``.py`` file, a folder or an importable module name; every item the chapter names is
looked for and checked (:func:`verify.api.module.check_module`), one row per item in the
terminal, and in ``--json``/``--junit`` files (written atomically by verify.report's writers).
Exit status: 0 if every item found passed, 1 if one failed (or none was found), 2 for a bad
argument (PATH neither a file, a folder nor a module; a report path that cannot be written).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from .report import CheckResult, Report
from .report.writers import WRITERS

__all__ = ["main", "format_rows"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} "
                     f"--help)\n")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Find the chapter's functions, networks, optimizers "
                "and dropout in your code and check each against the reference.",
                epilog="Exit status: 0 if every item found passed, 1 if one failed or none "
                "was found, 2 for bad usage.")
    p.add_argument("path", help="a .py file, a folder, or an importable module name")
    for name in ("json", "junit"):
        w = WRITERS[name]
        p.add_argument(w.option, metavar="FILE", default=None, help=w.help)
    p.add_argument("--require-all", action="store_true",
                   help="an item that is not found fails (default: reported as not found)")
    p.add_argument("--dropout", default="book", choices=("book", "inverted", "either"),
                   help="which dropout convention passes (default: book, the non-inverted one "
                   "of the book and the reference)")
    return p


def _verdict(c: CheckResult) -> str:
    status = c.details.get("status")
    if status == "not found":
        return "FAIL" if not c.passed else "not found"
    return "PASS" if c.passed else "FAIL"


def _note(c: CheckResult) -> str:
    if c.details.get("status") == "not found":
        return "looked for " + ", ".join(c.details.get("looked_for", []))
    parts = [str(c.details.get("found_as", ""))]
    notes = list(c.details.get("notes") or [])
    # The adaptations that change what is compared (the rest are in the JSON's details).
    shown = ("detected", "closest", "one-hot", "labels-only")
    notes += [a for a in c.details.get("adapted", []) if a.startswith(shown)]
    if notes:
        parts.append("; ".join(str(n) for n in notes))
    return " - ".join(p for p in parts if p)


def format_rows(rows: list[CheckResult], label: str) -> str:
    """The terminal table (fixed layout, independent of the terminal's width)."""
    width = max([len("item"), *(len(c.name) for c in rows)])
    lines = [f"nnparity check {label}", "",
             f"{'item'.ljust(width)}  {'verdict'.ljust(9)}  found as - notes"]
    for c in rows:
        lines.append(f"{c.name.ljust(width)}  {_verdict(c).ljust(9)}  {_note(c)}".rstrip())
    failed = [c for c in rows if not c.passed]
    for c in failed:
        lines += ["", f"--- {c.name} ---", c.message.rstrip()]
    missing = sum(1 for c in rows if c.details.get("status") == "not found")
    checked = len(rows) - missing
    lines += ["", f"{checked} checked: {checked - len(failed)} passed, "
              f"{len(failed)} failed; {missing} not found"]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "nnparity check") -> int:
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    from .api.module import check_module, load_user_code

    try:
        code = load_user_code(args.path)
    except (TypeError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    rows = check_module(code, require_all=args.require_all, dropout_convention=args.dropout)
    found = [c for c in rows if c.details.get("status") != "not found"]
    report = Report(checks=rows, environment={"command": "nnparity check", "path": args.path})
    for name in ("json", "junit"):
        target = getattr(args, name)
        if target is None:
            continue
        try:
            WRITERS[name].write(report, target)
        except OSError as exc:
            print(f"{prog}: error: --{name}: cannot write {target!r} ({exc})", file=sys.stderr)
            return 2
    status = 1 if not found or not all(c.passed for c in rows) else 0
    try:
        print(format_rows(rows, args.path))
        if not found:
            print(f"{prog}: none of the chapter's names was found in {args.path}")
        sys.stdout.flush()
    except BrokenPipeError:  # `nnparity check x | head`: the verdict still sets the status
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status

