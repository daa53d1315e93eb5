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
