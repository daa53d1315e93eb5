"""Tests of verify.report (JSON, JUnit, Markdown, terminal) and verify.plots (PNG files)."""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from reference_numpy._validate import atomic_write
from verify.compare import Tolerance, compare_arrays, compare_scalars_series
from verify.plots import (
    EPS64,
    _draw_rounding_units,
    plot_curves,
    plot_difference,
    plot_fast_paths,
    plot_training_comparison,
)
from verify.report import (
    JSON_SCHEMA,
    CheckResult,
    Report,
    decode_float,
    encode_float,
    format_table,
    read_json,
    validate_report_dict,
    write_json,
    write_junit,
    write_markdown,
)

TOL = Tolerance("float64", rtol=1e-10, atol=1e-12, justification="test fixture")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report() -> Report:
    """Two passing checks and two failing ones, with non-finite numbers in several places."""
    e = np.linspace(-1, 1, 12).reshape(3, 4)
    ok = compare_arrays("grad W1", e + 1e-14, e, TOL)
    a = e.copy()
    a[2, 1] = np.nan
    bad_nan = compare_arrays("grad b2", a, e, TOL)
    loss = np.linspace(2.3, 0.3, 50)
    drift = loss.copy()
    drift[41:] += 1e-6
    series = compare_scalars_series("train loss", drift, loss, TOL)
    r = Report(
        environment={
            "numpy": np.__version__,
            "device": "cpu",
            "threads": 4,
            "weird": [math.inf, np.float32(1.5)],
        }
    )
    r.add(
        CheckResult.from_comparison(
            ok, "gradients", seconds=0.01, details={"array": np.arange(3), "ratio": math.nan}
        )
    )
    r.add(CheckResult.from_comparison(bad_nan, "gradients", seconds=0.02))
    r.add(CheckResult.from_comparison(series, "training", seconds=1.5, where="step 41, train loss"))
    r.add(
        CheckResult(
            name="seed replay",
            group="seeds",
            passed=True,
            max_abs_err=0.0,
            max_rel_err=0.0,
            where="",
            tolerance_class="exact",
            rtol=0.0,
            atol=0.0,
        )
    )
    return r


# --------------------------------------------------------------------------- JSON


def test_report_passed_needs_checks_and_all_passing():
    assert not Report().passed
    r = _report()
    assert not r.passed and r.n_passed == 2 and r.n_failed == 2
    assert Report(checks=[r.checks[0]]).passed


def test_from_comparison_fields():
    r = _report()
    ok, nan_c, series, _ = r.checks
    assert ok.passed and ok.where.startswith("index (")
    assert ok.details["tolerance_justification"] == "test fixture"
    assert nan_c.where == "index (2, 1)" and math.isinf(nan_c.max_abs_err)
    assert series.first_divergence_step == 41 and series.where == "step 41, train loss"
    assert (series.tolerance_class, series.rtol, series.atol) == ("float64", 1e-10, 1e-12)


def test_json_round_trip_with_nonfinite_values(tmp_path):
    r = _report()
    d = r.to_json_dict()
    text = json.dumps(d, allow_nan=False)  # strict JSON: would raise on a raw inf/nan
    loaded = json.loads(text)
    validate_report_dict(loaded)
    assert loaded["schema"] == "nnparity.verify" and loaded["schema_version"] == "1.1"
    assert loaded["summary"] == {"total": 4, "passed": 2, "failed": 2, "seconds": 1.53}

    assert loaded["checks"][1]["max_abs_err"] == "inf"
    assert loaded["checks"][0]["details"]["ratio"] == "nan"
    assert loaded["environment"]["weird"] == ["inf", 1.5]
    path = write_json(r, tmp_path / "report.json")
    back = read_json(path)
    assert [c.name for c in back.checks] == [c.name for c in r.checks]
    assert math.isinf(back.checks[1].max_abs_err)
    assert back.checks[2].first_divergence_step == 41
    assert json.loads(path.read_text())["passed"] is False


def test_encode_decode_float():
    assert [encode_float(x) for x in (1.5, math.inf, -math.inf)] == [1.5, "inf", "-inf"]
    assert encode_float(math.nan) == "nan" and math.isnan(decode_float("nan"))
    with pytest.raises(ValueError):
        decode_float("Infinity")


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.pop("summary"), "summary"),
        (lambda d: d["checks"][0].pop("rtol"), "checks[0].rtol"),
        (lambda d: d["checks"][1].__setitem__("max_abs_err", math.inf), "checks[1].max_abs_err"),
        (lambda d: d["checks"][0].__setitem__("passed", "yes"), "checks[0].passed"),
        (
            lambda d: d["checks"][0].__setitem__("first_divergence_step", 1.5),
            "checks[0].first_divergence_step",
        ),
        (lambda d: d["checks"][0].__setitem__("extra", 1), "checks[0].extra"),
        (lambda d: d.__setitem__("schema_version", "2.0"), "schema_version"),
        (lambda d: d["summary"].__setitem__("failed", 0), "summary.failed"),
        (lambda d: d.__setitem__("passed", True), "passed"),
        (lambda d: d["checks"][0]["details"].__setitem__("x", math.nan), "checks[0]['details']"),
    ],
)
def test_validate_report_dict_names_the_offending_key(mutate, key):
    d = json.loads(json.dumps(_report().to_json_dict()))
    validate_report_dict(d)
    mutate(d)
    with pytest.raises(ValueError) as info:
        validate_report_dict(d)
    assert str(info.value).startswith(key) or key in str(info.value), str(info.value)


def test_schema_is_draft_2020_12_and_lists_check_fields():
    assert JSON_SCHEMA["$schema"].endswith("2020-12/schema")
    fields = set(JSON_SCHEMA["$defs"]["check"]["required"])
    assert fields == set(_report().to_json_dict()["checks"][0])


def test_unserialisable_details_fail_before_writing_and_keep_old_file(tmp_path):
    path = tmp_path / "report.json"
    write_json(_report(), path)
    before = path.read_bytes()
    r = _report()
    r.checks[0].details["obj"] = object()
    with pytest.raises(TypeError, match="details"):
        write_json(r, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["report.json"]


# --------------------------------------------------------------------------- JUnit / Markdown


def test_junit_has_one_testcase_per_check_and_failures(tmp_path):
    r = _report()
    r.checks[3].message = "control \x01 char"  # must not break the XML
    path = write_junit(r, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    assert float(suite.get("time")) == pytest.approx(1.53)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in r.checks]
    assert cases[2].get("classname") == "nnparity.training"
    failures = [c.find("failure") for c in cases]
    assert [f is not None for f in failures] == [False, True, True, False]
    assert failures[1].get("message").startswith("Mismatch in 'grad b2'")
    assert "NaN/Inf positions differ" in failures[1].text
    assert "first divergence at step 41" in failures[2].text
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["device"] == "cpu" and props["weird"] == '["inf", 1.5]'


def test_markdown_contains_tables(tmp_path):
    path = write_markdown(_report(), tmp_path / "report.md")
    text = path.read_text()
    assert text.startswith("# ")
    assert "FAIL: 2 of 4 checks passed" in text
    assert "| key | value |" in text and "| device | cpu |" in text
    assert '| weird | ["inf", 1.5] |' in text
    assert "| check | verdict | worst abs | worst rel | where | tolerance |" in text
    assert "| gradients/grad b2 | **FAIL** | inf | inf | index (2, 1) |" in text
    assert "float64 (rtol=1e-10, atol=1e-12)" in text
    assert "## Failures" in text and "```text" in text


def test_terminal_table_aligned_with_summary():
    r = _report()
    out = format_table(r)
    for c in r.checks:
        assert c.name in out
    lines = out.splitlines()
    assert lines[-1] == "2 passed, 2 failed"
    header = lines[0]
    assert header.split()[:3] == ["group", "check", "worst"]
    rows = lines[2:6]
    verdict_col = header.index("verdict")
    assert [row[verdict_col : verdict_col + 4] for row in rows] == ["PASS", "FAIL", "FAIL", "PASS"]
    assert "Mismatch in 'grad b2'" in out and "\x1b[" not in out
    colored = format_table(r, color=True)
    assert "\x1b[32m" in colored and "\x1b[31m" in colored
    assert format_table(Report()).splitlines()[-1] == "0 passed, 0 failed"


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_leaves_no_temp_files_and_failure_keeps_old(tmp_path):
    path = tmp_path / "out.json"
    write_json(_report(), path)
    write_json(_report(), path)
    assert os.listdir(tmp_path) == ["out.json"]
    before = path.read_bytes()

    def half_then_crash(f):
        f.write(b"{ half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.json"]


# --------------------------------------------------------------------------- plots


def _is_png(path: Path) -> bool:
    data = Path(path).read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_plot_curves_and_difference_with_zeros_and_nan(tmp_path):
    x = np.arange(100)
    a = np.exp(-x / 30)
    b = a.copy()
    b[60:] += 1e-4
    assert _is_png(
        plot_curves(
            tmp_path / "c.png", title="loss", x=x, curves={"numpy": a, "torch": b}, ylabel="loss"
        )
    )
    diff = a - b  # zeros for the first 60 steps
    diff[70] = np.nan
    p = plot_difference(
        tmp_path / "d.png",
        title="|loss diff|",
        x=x,
        diff=diff,
        band=1e-6 + 1e-5 * np.abs(a),
        first_divergence=60,
    )
    assert _is_png(p)
    assert _is_png(
        plot_difference(tmp_path / "z.png", title="all zero", x=x, diff=np.zeros(100), band=0.0)
    )
    assert sorted(os.listdir(tmp_path)) == ["c.png", "d.png", "z.png"]
    with pytest.raises(ValueError, match="diff"):
        plot_difference(tmp_path / "bad.png", title="t", x=x, diff=np.zeros(3), band=1.0)
    with pytest.raises(ValueError, match="first_divergence"):
        plot_difference(
            tmp_path / "bad.png", title="t", x=x, diff=diff, band=1.0, first_divergence=100
        )


def test_plot_training_comparison(tmp_path):
    steps = np.arange(200)
    loss_a = 2.3 * np.exp(-steps / 60) + 0.1
    loss_b = loss_a.copy()
    loss_b[150:] += 1e-5
    acc_a = {"train": np.linspace(0.1, 0.95, 8), "test": np.linspace(0.1, 0.93, 8)}
    acc_b = {"train": acc_a["train"].copy(), "test": acc_a["test"] + 1e-4}
    p = plot_training_comparison(
        tmp_path / "t.png",
        loss_a=loss_a,
        loss_b=loss_b,
        acc_a=acc_a,
        acc_b=acc_b,
        label_a="numpy",
        label_b="torch",
        loss_band=1e-6,
        acc_band=1e-4,
        first_divergence=150,
    )
    assert _is_png(p)
    # a run that stopped early still plots
    q = plot_training_comparison(
        tmp_path / "short.png",
        loss_a=loss_a,
        loss_b=loss_b[:120],
        acc_a=acc_a,
        acc_b={"train": acc_b["train"][:5]},
        label_a="numpy",
        label_b="torch",
        loss_band=1e-6,
        acc_band=1e-4,
    )
    assert _is_png(q)


def test_float64_difference_is_drawn_in_rounding_units(tmp_path):
    """The float64 panel shows |a - b| / (eps |b|): a 2-unit difference is drawn at 2."""
    import matplotlib.pyplot as plt

    b = np.linspace(2.3, 0.4, 50)
    a = b.copy()
    a[10] = b[10] * (1 + 2 * EPS64)  # two rounding units
    a[20] = np.nan
    fig, ax = plt.subplots()
    try:
        _draw_rounding_units(ax, np.arange(50.0), a - b, b, np.full(50, 1e-12), None)
        dots = ax.lines[0]
        y = dict(zip(dots.get_xdata(), dots.get_ydata(), strict=True))
        assert y[10.0] == pytest.approx(2.0, rel=0.3)  # a[10] itself is rounded: 2 +- 0.5
        assert y[0.0] == 0.0 and 20.0 not in y  # NaN is marked apart, not drawn as a dot
        assert ax.get_ylim()[1] >= 4.0
        assert "non-finite" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    finally:
        plt.close(fig)
    steps = np.arange(50)
    p = plot_training_comparison(tmp_path / "f64.png", loss_a=a, loss_b=b,
                                 acc_a={"test": [0.1, 0.5]}, acc_b={"test": [0.1, 0.5]},
                                 label_a="torch", label_b="numpy", loss_band=1e-12 + 0 * steps,
                                 acc_band=1e-4, rounding_units=True)
    assert _is_png(p)


def test_plot_fast_paths(tmp_path):
    ref = np.linspace(2.3, 0.5, 300)
    losses = {"numpy fused": ref + 1e-7, "torch fused": ref * (1 + 1e-6)}
    bands = {k: np.full(300, 1e-5) for k in losses}
    acc = {k: [0.1, 0.8] for k in losses}
    assert _is_png(plot_fast_paths(tmp_path / "fp.png", reference_loss=ref, losses=losses,
                                   bands=bands, test_acc=acc, reference_test_acc=[0.1, 0.8]))
    with pytest.raises(ValueError, match="bands: .*missing \\['torch fused'\\]"):
        plot_fast_paths(tmp_path / "bad.png", reference_loss=ref, losses=losses,
                        bands={"numpy fused": bands["numpy fused"]}, test_acc=acc,
                        reference_test_acc=[0.1, 0.8])
    with pytest.raises(ValueError, match="losses"):
        plot_fast_paths(tmp_path / "bad.png", reference_loss=ref, losses={}, bands={},
                        test_acc={}, reference_test_acc=[0.1])
    assert sorted(os.listdir(tmp_path)) == ["fp.png"]


# --------------------------------------------------------------------------- producer, registry


def test_every_report_records_the_producer(tmp_path):
    r = _report()
    r.producer = {"name": "nnparity", "version": "9.9.9", "commit": "abc123"}
    d = json.loads(write_json(r, tmp_path / "r.json").read_text())
    assert d["producer"] == {"name": "nnparity", "version": "9.9.9", "commit": "abc123"}
    props = {p.get("name"): p.get("value")
             for p in ET.parse(write_junit(r, tmp_path / "j.xml")).getroot().iter("property")}
    assert props["nnparity_version"] == "9.9.9" and props["nnparity_commit"] == "abc123"
    assert "nnparity 9.9.9, commit abc123" in write_markdown(r, tmp_path / "s.md").read_text()
    assert read_json(tmp_path / "r.json").producer == r.producer


def test_default_producer_is_this_version_and_a_commit_or_unknown():
    from verify.version import nnparity_version

    p = Report().producer
    assert p["name"] == "nnparity" and p["version"] == nnparity_version()
    assert p["commit"] == "unknown" or len(p["commit"].removesuffix("-dirty")) == 40


def test_schema_1_0_documents_are_still_read(tmp_path):
    d = _report().to_json_dict()
    d["schema_version"] = "1.0"
    del d["producer"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(d))
    back = read_json(path)
    assert back.producer["version"] == "unknown" and len(back.checks) == 4


def test_read_json_refuses_nan_tokens(tmp_path):
    text = json.dumps(_report().to_json_dict()).replace('"inf"', "Infinity", 1)
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="Infinity is not JSON"):
        read_json(path)


def test_codec_dumps_is_strict_json_with_nonfinite_strings():
    from verify.report.codec import dumps

    text = dumps({"a": [math.nan, -math.inf, np.float32(2.5)], "b": np.arange(2)})
    assert json.loads(text) == {"a": ["nan", "-inf", 2.5], "b": [0, 1]}
    assert "NaN" not in text and "Infinity" not in text


def test_a_new_format_is_one_registry_entry(tmp_path, monkeypatch):
    from verify import cli
    from verify.report import writers
    from verify.report.writers import WRITERS, Writer, write_report_set

    assert len({w.filename for w in WRITERS.values()}) == len(WRITERS)
    assert len({w.option for w in WRITERS.values()}) == len(WRITERS)
    csv = Writer(name="csv", filename="checks.csv", option="--csv", help="CSV here",
                 render=lambda r: "\n".join(c.name for c in r.checks).encode())
    monkeypatch.setitem(writers.WRITERS, "csv", csv)
    out = write_report_set(_report(), tmp_path / "rep")
    assert (out / "checks.csv").read_text().splitlines()[0] == "grad W1"
    args = cli.build_parser().parse_args(["losses", "--csv", str(tmp_path / "x.csv")])
    assert args.csv == str(tmp_path / "x.csv")


@pytest.mark.parametrize("width", [8, 12, 14, 20, 40])
def test_wrapped_cells_break_between_parts_not_inside_them(width):
    """Engine names break after '/', tolerances after '=', and a piece is cut only when it is
    longer than the whole column (at 80 columns the table once showed 'torch/cpu/flo' 'at64')."""
    from verify.report.table import _wrap

    text = "sgd (one step) (torch/cpu/float64) float64 (rtol=8e-14, atol=9.13384e-17)"
    lines = _wrap(text, width)
    assert all(len(ln) <= width for ln in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    pieces = [p for w in text.split() for p in re.split(r"(?<=[/=])", w) if p]
    for p in pieces:
        if len(p) <= width:
            assert any(p in ln for ln in lines), (p, lines)


def test_summary_seconds_are_the_runs_wall_time_when_recorded():
    """Checks share work (their seconds overlap), so the run's own wall time is the summary's."""
    r = _report()
    assert r.seconds == 1.53  # no wall time recorded: the sum of the checks'
    r.environment["seconds"] = 0.9
    assert r.seconds == 0.9 and r.to_json_dict()["summary"]["seconds"] == 0.9
