"""The README's bad-input counts, generated from the table in tests/test_bad_inputs.py.

    python scripts/bad_input_counts.py            # print the block
    python scripts/bad_input_counts.py --write    # replace it in README.md

The block sits between ``<!-- bad-inputs:begin -->`` and ``<!-- bad-inputs:end -->``;
``tests/test_bad_inputs.py::test_readme_counts_are_generated`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bad-inputs:begin -->", "<!-- bad-inputs:end -->"


def block() -> str:
    """The markdown table: cases (row x engine) per group, and per exception type."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from test_bad_inputs import ROWS

    groups: dict[str, Counter[str]] = {}
    for row in ROWS:
        kinds = row.exc if isinstance(row.exc, tuple) else (row.exc,)
        kind = " or ".join(k.__name__ for k in kinds)
        groups.setdefault(row.group, Counter())[kind] += len(row.engines)
    kinds = sorted({k for c in groups.values() for k in c}, key=lambda k: (-sum(
        c[k] for c in groups.values()), k))  # fmt: skip
    lines = [
        "| group | cases | " + " | ".join(kinds) + " |",
        "|---|---:|" + "---:|" * len(kinds),
    ]
    for g, c in groups.items():
        lines.append(f"| {g} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in kinds) + " |")
    total = Counter()
    for c in groups.values():
        total.update(c)
    cells = " | ".join(str(total[k]) for k in kinds)
    lines.append(f"| **all** | **{sum(total.values())}** | {cells} |")
    lines += ["", *other_suites()]
    return "\n".join(lines)


def other_suites() -> list[str]:
    """The tables of the CLI's and the MNIST loader's bad-input suites, counted the same way."""
    from test_cli_bad_inputs import ROWS as CLI_ROWS
    from test_mnist_faults import DATA_DIR_ROWS, IDX_ROWS

    return [
        "| other suite | rows | what each gets |",
        "|---|---:|---|",
        f"| CLI (`tests/test_cli_bad_inputs.py`) | {len(CLI_ROWS)} | one line on stderr naming the "
        "option, exit 2, before any computation; no file or folder created or changed |",
        f"| MNIST files and folders (`tests/test_mnist_faults.py`) | "
        f"{len(IDX_ROWS) + len(DATA_DIR_ROWS)} | an error naming the file and what was expected; "
        "the folder unchanged |",
    ]


def readme_with_block(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + block() + "\n" + text[end:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="replace the block in README.md")
    args = ap.parse_args()
    if not args.write:
        print(block())
        return 0
    readme = ROOT / "README.md"
    from reference_numpy._validate import atomic_write_bytes

    atomic_write_bytes(readme, readme_with_block(readme.read_text(encoding="utf-8")).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
