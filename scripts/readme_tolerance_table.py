"""Rewrite the README's tolerance table from verify/tolerances.py (never edit it by hand).

    python scripts/readme_tolerance_table.py

The table is the block of lines starting with ``| class | kind |`` up to the first line that is
not a table row; tests/test_readme_example.py fails when it differs from
``verify.tolerances.markdown_table()``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from reference_numpy._validate import atomic_write_bytes
    from verify.tolerances import markdown_table

    readme = ROOT / "README.md"
    lines = readme.read_text(encoding="utf-8").split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.startswith("| class | kind |")), None)
    if start is None:
        print(f"{readme}: no tolerance table (a line starting '| class | kind |')",
              file=sys.stderr)
        return 1
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    new = lines[:start] + markdown_table().rstrip("\n").split("\n") + lines[end:]
    atomic_write_bytes(readme, "\n".join(new).encode("utf-8"))
    print(f"{readme}: tolerance table rewritten ({end - start} lines -> "
          f"{len(markdown_table().rstrip().splitlines())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
