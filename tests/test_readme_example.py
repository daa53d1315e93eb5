"""The README's five-line example runs as written, on the data a fresh user has: no data folder,
no network, so the loader falls back to the bundled subset."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The reference in five lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README: no python block under 'The reference in five lines'"
    return match.group(1)


def test_five_line_example_runs_on_the_bundled_subset(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("NNPARITY_DATA_DIR", raising=False)
    monkeypatch.setenv("NNPARITY_CACHE_DIR", str(tmp_path / "cache"))
    # No mirror answers (a file: URL to nothing fails at once), as on a machine offline.
    monkeypatch.setenv("NNPARITY_MNIST_MIRRORS", (tmp_path / "no-mirror").as_uri() + "/")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(_example(), str(README), "exec"), scope)
    assert any("subset" in str(w.message) for w in caught), "the subset was not announced"
    history = scope["history"]
    assert len(history.train_loss_list) == 10_000
    assert (tmp_path / "training.png").read_bytes()[:4] == b"\x89PNG"
    # The bundled 6,000 images still teach the network: far above chance (0.1).
    assert history.test_acc_list[-1] > 0.8


@pytest.mark.parametrize("name", ["load_mnist", "TrainPlan", "TwoLayerNet", "train",
                                  "plot_history"])
def test_example_uses_public_names(name: str) -> None:
    assert f"rn.{name}(" in _example()


def test_readme_tolerance_table_is_generated_from_the_code() -> None:
    from verify.tolerances import markdown_table

    assert markdown_table() in README.read_text(encoding="utf-8"), (
        "README's tolerance table differs from verify/tolerances.py: regenerate it from "
        "verify.tolerances.markdown_table()"
    )


def _readme_paragraph(start: str, stop: str) -> str:
    text = README.read_text(encoding="utf-8")
    assert start in text, f"README.md has no paragraph starting {start!r}"
    return text.split(start, 1)[1].split(stop, 1)[0]


def test_readme_lists_exactly_the_cli_options_and_commands() -> None:
    """The README's "Options:" and "Commands:" lists are the parser's, no more and no less."""
    from verify.cli import SUBCOMMANDS, build_parser

    parser = build_parser()
    cli = {s for a in parser._actions for s in a.option_strings
           if s.startswith("--") and s != "--help"}
    shown = set(re.findall(r"`(--[a-z0-9-]+)", _readme_paragraph("Options:", "Exit status")))
    assert shown == cli, f"README lacks {sorted(cli - shown)}, lists unknown {sorted(shown - cli)}"
    commands = set(re.findall(r"`([a-z][a-z0-9-]*)`", _readme_paragraph("Commands:", "\n\n")))
    assert commands == set(SUBCOMMANDS), (
        f"README lacks {sorted(set(SUBCOMMANDS) - commands)}, "
        f"lists unknown {sorted(commands - set(SUBCOMMANDS))}")


def test_readme_selftest_count_is_the_number_of_planted_bugs() -> None:
    from verify.selftest import BUGS

    counts = re.findall(r"plant (\d+) bugs", README.read_text(encoding="utf-8"))
    assert counts and all(int(c) == len(BUGS) for c in counts), (counts, len(BUGS))


def test_readme_benchmark_figures_are_the_published_run() -> None:
    """Every figure line of the README's Benchmarks section is a line `python -m nnparity_bench
    --publish benchmarks/RESULTS.md` wrote, never one typed by hand."""
    section = _readme_paragraph("## Benchmarks", "\n## ")
    published = set((README.parent / "benchmarks" / "RESULTS.md").read_text(
        encoding="utf-8").splitlines())
    figures = [ln for ln in section.splitlines()
               if ln.startswith(("| ", "<sub>", "Run: ", "Targets met"))]
    assert figures, "README's Benchmarks section shows no figures"
    typed = [ln for ln in figures if ln not in published]
    assert not typed, f"README bench lines not in benchmarks/RESULTS.md: {typed[:3]}"
