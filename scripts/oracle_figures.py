"""The README's oracle figures (false alarms and detection limits), generated from measurements.

The three measurement scripts each write one JSON file under ``docs/measurements/``:

  M=docs/measurements
  python scripts/oracle_false_alarms.py --cases 10000 --planted 600 --json $M/oracle_gradient.json
  python scripts/oracle_step_false_alarms.py --cases 10000 --planted 150 --json $M/oracle_step.json
  python scripts/oracle_optimizer_false_alarms.py --cases 3000 --json $M/oracle_optimizer.json

and this script renders the block between ``<!-- oracle-figures:begin -->`` and
``<!-- oracle-figures:end -->`` in README.md from those files alone:

  python scripts/oracle_figures.py            # print the block
  python scripts/oracle_figures.py --write    # replace it in README.md

``tests/test_oracle_figures.py`` fails when the block disagrees with the files.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOC = ROOT / "docs" / "oracle.md"
MEASUREMENTS = ROOT / "docs" / "measurements"
BEGIN, END = "<!-- oracle-figures:begin -->", "<!-- oracle-figures:end -->"
FILES = {"gradient": "oracle_gradient.json", "step": "oracle_step.json",
         "optimizer": "oracle_optimizer.json"}
# What each measurement is: the figure's name in the README and the script that makes it.
SCRIPTS = {"gradient": ("check_gradient", "oracle_false_alarms.py"),
           "step": ("check_training_step", "oracle_step_false_alarms.py"),
           "optimizer": ("check_optimizer_step", "oracle_optimizer_false_alarms.py")}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "verify", "reference_numpy", "reference_torch"],
                               capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")


def save(path: str | Path, argv: list[str], started: float, results: dict[str, Any]) -> Path:
    """Write one measurement atomically: what ran, at which commit, how long, and the results."""
    from reference_numpy._validate import atomic_write_bytes

    doc = {"script": Path(sys.argv[0]).name, "args": argv, "commit": _commit(),
           "date": time.strftime("%Y-%m-%d", time.gmtime()),
           "python": platform.python_version(),
           "seconds": round(time.perf_counter() - started, 1), "results": results}
    return atomic_write_bytes(path, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
                              .encode("utf-8"))


def _load(name: str, folder: Path) -> dict[str, Any]:
    path = folder / FILES[name]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        sys.exit(f"oracle_figures: {path} is missing; run scripts/{SCRIPTS[name][1]} --json {path}")


def _run_line(doc: dict[str, Any]) -> str:
    return (f"`python scripts/{doc['script']} {' '.join(doc['args'])}` at {doc['commit']} "
            f"({doc['date']}, {doc['seconds']:.0f} s)")


def _e(v: float | None) -> str:
    return "—" if v is None else f"{v:.1e}"


def _levels(row: dict[str, Any]) -> str:
    return " / ".join(_e(row[k]) for k in ("half", "most", "every"))


def block(folder: Path = MEASUREMENTS) -> str:
    """The markdown: one table of false alarms, one of the smallest planted errors caught."""
    docs = {name: _load(name, folder) for name in FILES}
    g, s, o = docs["gradient"]["results"], docs["step"]["results"], docs["optimizer"]["results"]
    lines = [BEGIN, "| check | correct cases it did not write | false alarms |", "|---|---|---:|"]
    for row in g["false_alarms"]:
        lines.append(f"| `check_gradient`, {row['how']} | {row['cases']:,} {row['dtype']} | "
                     f"{row['alarms']} |")
    for row in s["false_alarms"]:
        lines.append(f"| `check_training_step` | {row['cases']:,} {row['dtype']} (largest "
                     f"error / bound {row['worst_ratio']:.2g}) | {row['alarms']} |")
    for row in o["false_alarms"]:
        lines.append(f"| `check_optimizer_step`, defaults | {row['cases']:,} {row['dtype']} | "
                     f"{row['alarms']} |")
    lines += ["", "Smallest planted relative error e caught in half / 90% / all of the cases "
              "(— : not caught in that share up to the largest e tried):", "",
              "| check | planted error | dtype | cases | e caught: half / 90% / all |",
              "|---|---|---|---:|---|"]
    for row in g["detection"]:
        if row["how"] == "defaults":
            lines.append(f"| `check_gradient` | gradient × (1+e), {row['key']} | {row['dtype']} "
                         f"| {row['cases']} | {_levels(row)} |")
    for row in s["detection"]:
        lines.append(f"| `check_training_step` | {row['what']} | {row['dtype']} | "
                     f"{row['cases']} | {_levels(row)} |")
    for row in o["planted"]:
        lines.append(f"| `check_optimizer_step` | {row['bug']} | float32 and float64 | "
                     f"{row['cases']} | caught {row['caught']} of {row['cases']} |")
    lines += ["", "Measured by " + "; ".join(
        f"{SCRIPTS[n][0]}: {_run_line(docs[n])}" for n in FILES) + ".", END]
    return "\n".join(lines)


def _docs(folder: Path) -> dict[str, dict[str, Any]]:
    return {name: _load(name, folder) for name in FILES}


def gradient_doc(folder: Path = MEASUREMENTS) -> str:
    """docs/oracle.md's table for check_gradient: per way of calling and dtype, false alarms
    and the smallest planted error caught for each kind of case."""
    doc = _docs(folder)["gradient"]
    res = doc["results"]
    keys = list(dict.fromkeys(row["key"] for row in res["detection"]))
    lines = [f"Measured by {_run_line(doc)}; e caught in half / 90% / all of the cases "
             "(— : not caught in that share up to e = 1e-1):", "",
             "| how | dtype | false alarms | " + " | ".join(keys) + " |",
             "|---|---|---|" + "---|" * len(keys)]
    for fa in res["false_alarms"]:
        cells = []
        for key in keys:
            (row,) = [r for r in res["detection"] if (r["how"], r["dtype"], r["key"]) ==
                      (fa["how"], fa["dtype"], key)]
            cells.append(f"{_levels(row)} ({row['cases']})")
        lines.append(f"| {fa['how']} | {fa['dtype']} | {fa['alarms']} / {fa['cases']:,} | "
                     + " | ".join(cells) + " |")
    lines += ["", "(In brackets: how many of the planted cases were of that kind.)"]
    return "\n".join(lines)


def step_doc(folder: Path = MEASUREMENTS) -> str:
    """docs/oracle.md's table for check_training_step."""
    doc = _docs(folder)["step"]
    res = doc["results"]
    whats = list(dict.fromkeys(row["what"] for row in res["detection"]))
    lines = [f"Measured by {_run_line(doc)}:", "",
             "| dtype | false alarms | largest \\|a−e\\|/bound | "
             + " | ".join(f"{w}: e caught in half / 90% / all" for w in whats) + " |",
             "|---|---|---|" + "---|" * len(whats)]
    for fa in res["false_alarms"]:
        cells = [_levels(r) for w in whats for r in res["detection"]
                 if (r["dtype"], r["what"]) == (fa["dtype"], w)]
        lines.append(f"| {fa['dtype']} | {fa['alarms']} / {fa['cases']:,} | "
                     f"{fa['worst_ratio']:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def optimizer_doc(folder: Path = MEASUREMENTS) -> str:
    """docs/oracle.md's sentence for check_optimizer_step."""
    doc = _docs(folder)["optimizer"]
    res = doc["results"]
    alarms = ", ".join(f"{r['alarms']} over {r['cases']:,} {r['dtype']}"
                       for r in res["false_alarms"])
    bugs = "; ".join(f"{r['bug']}: caught in {r['caught']} of {r['cases']}"
                     for r in res["planted"])
    return (f"Measured by {_run_line(doc)}: false alarms on correct optimizers {alarms}; "
            f"planted, given one key and one gradient dict: {bugs}.")


def _marks(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


#: Every generated block: the file, its name, what renders it (with its markers).
BLOCKS = ((README, "oracle-figures", lambda f: block(f)),
          (DOC, "oracle-gradient", gradient_doc), (DOC, "oracle-step", step_doc),
          (DOC, "oracle-optimizer", optimizer_doc))


def with_blocks(path: Path, text: str, folder: Path = MEASUREMENTS) -> str:
    """``text`` (the contents of ``path``) with each of its generated blocks rendered anew."""
    for file, name, render in BLOCKS:
        if file != path:
            continue
        begin, end = _marks(name)
        head, sep, rest = text.partition(begin)
        if not sep or end not in rest:
            sys.exit(f"oracle_figures: {path.name} has no {begin} ... {end} block")
        body = render(folder)
        if name == "oracle-figures":  # block() carries its own markers
            body = body[len(begin) + 1:-len(end) - 1]
        text = head + begin + "\n" + body + "\n" + end + rest.split(end, 1)[1]
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true",
                    help="replace the blocks in README.md and docs/oracle.md")
    args = ap.parse_args()
    if not args.write:
        print(block())
        return
    sys.path.insert(0, str(ROOT))
    from reference_numpy._validate import atomic_write_bytes

    for path in (README, DOC):
        text = path.read_text(encoding="utf-8")
        new = with_blocks(path, text)
        if new != text:
            atomic_write_bytes(path, new.encode("utf-8"))
            print(f"wrote the oracle figures into {path}")


if __name__ == "__main__":
    main()
