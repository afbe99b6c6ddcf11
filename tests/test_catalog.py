"""brianlab runs and brianlab compare over real run directories: single runs, sweep points,
an unfinished and a broken directory."""

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from conftest import read_json

QUICK = ["--codegen", "numpy", "--quiet", "--set", "n_neurons=5", "--set", "duration=50*ms"]


@pytest.fixture(scope="module")
def results(tmp_path_factory, lif_sweep):
    """results/ with two lif runs, a two-point sweep, an unfinished and a broken directory."""
    from brianlab.__main__ import main

    root = tmp_path_factory.mktemp("catalog") / "results"
    assert main(["run", "lif", *QUICK, "--out", str(root / "lif" / "a")]) == 0
    assert main(["run", "lif", *QUICK, "--set", "drive_max=30*mV", "--seed", "1", "--out", str(root / "lif" / "b")]) == 0
    shutil.copytree(lif_sweep, root / "sweeps" / "s")
    (root / "lif" / ".c.partial-123").mkdir()
    (root / "lif" / "broken").mkdir()
    (root / "lif" / "broken" / "config.json").write_text("{not json")
    return root


def runs_json(brianlab_cli, *args):
    code, out, err = brianlab_cli("runs", *args, "--json")
    assert code == 0, err
    return json.loads(out), err


def test_the_table_lists_runs_and_sweep_points_and_notes_what_it_skipped(brianlab_cli, results):
    rows, err = runs_json(brianlab_cli, results)
    paths = sorted(r["path"] for r in rows)
    points = sorted(str(p) for p in (results / "sweeps" / "s" / "runs").iterdir())
    assert paths == sorted([str(results / "lif" / "a"), str(results / "lif" / "b"), *points])
    assert err.count("brianlab: note: skipped") == 2 and "unfinished" in err and "broken" in err
    by_path = {r["path"]: r for r in rows}
    b = by_path[str(results / "lif" / "b")]
    metrics = read_json(results / "lif" / "b" / "metrics.json")
    assert (b["model"], b["device"], b["seed"]) == ("lif", "runtime", 1)
    assert set(b["changed"].split()) == {"n_neurons=5", "duration=50*ms", "drive_max=30*mV"}
    assert b["mean_rate"] == metrics["mean_rate"] and b["n_spikes"] == metrics["n_spikes"]
    assert b["sweep"] == "" and all(by_path[p]["sweep"] == str(results / "sweeps" / "s") for p in points)
    # the plain table: one line per run, the main metrics, a count
    code, out, err = brianlab_cli("runs", results)
    assert code == 0 and out.splitlines()[-1] == "4 runs (2 directories skipped)"
    assert len(out.splitlines()) == 6 and "mean_rate" in out.splitlines()[0]


def test_where_sort_and_model_select_and_order(brianlab_cli, results):
    # 30*mV, 0.03*volt and 30000*uV are the same drive
    for value in ("30*mV", "0.03*volt", "30000*uV"):
        rows, _ = runs_json(brianlab_cli, results, "--where", f"drive_max={value}")
        assert len(rows) == 2 and all("drive_max=30*mV" in r["changed"] for r in rows)
    rows, _ = runs_json(brianlab_cli, results, "--where", "drive_max=30*mV", "--where", "seed=1")
    assert [r["path"] for r in rows] == [str(results / "lif" / "b")]
    rows, _ = runs_json(brianlab_cli, results, "--model", "ring")
    assert rows == []
    rows, _ = runs_json(brianlab_cli, results, "--sort", "mean_rate")
    rates = [r["mean_rate"] for r in rows]
    assert rates == sorted(rates) and rates[0] < rates[-1]
    rows, _ = runs_json(brianlab_cli, results, "--where", f"n_spikes={rows[-1]['n_spikes']}")
    assert rows and all(r["mean_rate"] == rates[-1] for r in rows)


def test_csv_holds_every_metric_of_every_run(brianlab_cli, results):
    code, out, _ = brianlab_cli("runs", results, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4
    for row in rows:
        metrics = read_json(Path(row["path"]) / "metrics.json")
        assert float(row["mean_rate"]) == pytest.approx(metrics["mean_rate"])
        assert int(row["n_runs"]) == metrics["n_runs"]


def test_compare_shows_the_differing_parameters_and_every_metric_with_its_difference(brianlab_cli, results):
    a, b = results / "lif" / "a", results / "lif" / "b"
    code, out, err = brianlab_cli("compare", a, b, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data["params"]) == {"seed", "drive_max"}  # nothing else differs
    assert data["params"]["seed"] == ["0", "1"] and data["params"]["drive_max"][1] == "30*mV"
    ma, mb = read_json(a / "metrics.json"), read_json(b / "metrics.json")
    assert set(data["metrics"]) >= {k for k, v in ma.items() if isinstance(v, (int, float))}
    for name, entry in data["metrics"].items():
        assert entry["values"] == [ma.get(name), mb.get(name)]
        if isinstance(ma.get(name), (int, float)) and not isinstance(ma.get(name), bool):
            assert entry["difference"] == [pytest.approx(mb[name] - ma[name])]
    assert mb["mean_rate"] < ma["mean_rate"]  # the weaker drive (30 mV, not 40) fires less
    code, out, _ = brianlab_cli("compare", a, b)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("drive_max"))
    assert line.split()[1:] == [data["params"]["drive_max"][0], "30*mV"]
    line = next(x for x in out.splitlines() if x.startswith("mean_rate"))
    assert float(line.split()[-1]) == pytest.approx(mb["mean_rate"] - ma["mean_rate"], rel=1e-5)


@pytest.mark.parametrize("args, message", [
    (("runs", "{root}/nowhere"), "is not a directory"),
    (("runs", "{root}", "--where", "nonsense"), "--where expects NAME=VALUE"),
    (("runs", "{root}", "--where", "no_such_thing=1"), "no run has a parameter or metric named 'no_such_thing'"),
    (("runs", "{root}", "--where", "drive_max=fast"), "not a value of drive_max"),
    (("runs", "{root}", "--sort", "no_such_metric"), "no run has a metric or parameter named"),
    (("compare", "{root}/lif/a"), "at least two run directories"),
    (("compare", "{root}/lif/a", "{root}/lif/broken"), "cannot be read"),
    (("compare", "{root}/lif/a", "{root}/lif"), "is not a run directory"),
])
def test_bad_input_is_one_line_and_exit_2(brianlab_cli, results, args, message):
    before = sorted(p for p in results.rglob("*"))
    code, out, err = brianlab_cli(*(a.format(root=results) for a in args))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("brianlab: error: ") and message in err
    assert sorted(p for p in results.rglob("*")) == before
