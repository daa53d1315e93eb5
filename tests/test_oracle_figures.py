"""The README's oracle figures come from the measurement scripts' JSON files, never by hand."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


@pytest.fixture
def figures(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import oracle_figures

    return oracle_figures


@pytest.mark.parametrize("name", ["README.md", "docs/oracle.md"])
def test_blocks_are_generated_from_the_measurements(figures, name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert figures.with_blocks(ROOT / name, text) == text, (
        "stale: run python scripts/oracle_figures.py --write")
    if name == "README.md":
        start, end = text.index(figures.BEGIN), text.index(figures.END) + len(figures.END)
        assert text[start:end] == figures.block()


def test_committed_measurements_are_full_runs_at_a_clean_commit(figures):
    """A figure in the README is a measurement of the size its docs promise, of committed code."""
    least = {"gradient": 10_000, "step": 10_000, "optimizer": 3_000}
    for name, file in figures.FILES.items():
        doc = json.loads((figures.MEASUREMENTS / file).read_text(encoding="utf-8"))
        assert "+modified" not in doc["commit"] and doc["commit"] != "unknown", (name, doc)
        cases = sum(row["cases"] for row in doc["results"]["false_alarms"]
                    if row.get("how", "defaults") == "defaults")
        assert cases >= least[name], (name, cases)


@pytest.mark.parametrize("name, argv", [
    ("gradient", ["--cases", "8", "--planted", "2"]),
    ("step", ["--cases", "4", "--planted", "1"]),
    ("optimizer", ["--cases", "6"]),
])
def test_scripts_write_what_the_block_reads(figures, monkeypatch, tmp_path, capsys, name, argv):
    """Each script, run small, writes a file the block renders (the same code as the README's)."""
    script = SCRIPTS / figures.SCRIPTS[name][1]
    out = tmp_path / figures.FILES[name]
    monkeypatch.setattr(sys, "argv", [str(script), *argv, "--json", str(out)])
    runpy.run_path(str(script), run_name="__main__")
    assert f"wrote {out}" in capsys.readouterr().out
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["args"][-2:] == ["--json", str(out)] and doc["script"] == script.name
    for other, file in figures.FILES.items():
        if other != name:
            (tmp_path / file).write_bytes((figures.MEASUREMENTS / file).read_bytes())
    text = figures.block(tmp_path)
    assert text.startswith(figures.BEGIN) and text.endswith(figures.END)
    assert " ".join(argv) in text
    doc = {"gradient": figures.gradient_doc, "step": figures.step_doc,
           "optimizer": figures.optimizer_doc}[name](tmp_path)
    assert " ".join(argv) in doc


def test_missing_measurement_names_the_script(figures, tmp_path):
    with pytest.raises(SystemExit, match="oracle_false_alarms.py --json"):
        figures.block(tmp_path)
