"""Every ``runs/`` script checks its arguments as ``brianlab`` does: a bad value is one line, exit status 2.

The scripts are found by listing the ``brianlab.runs`` package, so a new script
is checked without being named here. Only argument parsing runs (nothing is
built or written), except in the last two tests, which start the interpreter.
"""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import brianlab.runs
from brianlab.arguments import ArgumentParser, add_sweep_arguments, run_script
from brianlab.errors import BrianlabError

SCRIPTS = sorted(m.name for m in pkgutil.iter_modules(brianlab.runs.__path__) if not m.name.startswith("_"))
SWEEPS = ("ipd_inhibitory_sweep", "lif_coupling_sweep", "ring_phase")


def test_the_scripts_are_found():
    assert {"ring_phase", "lif_coupling_sweep", "ipd_inhibitory_sweep", "ipd_train"} <= set(SCRIPTS)


def usage_error(name, argv, capsys):
    """(exit status, stdout, stderr) of ``main(argv)`` of ``brianlab.runs.name``, which must stop in argparse."""
    module = importlib.import_module(f"brianlab.runs.{name}")
    with pytest.raises(SystemExit) as stopped:
        module.main(argv)
    out, err = capsys.readouterr()
    return stopped.value.code, out, err


@pytest.mark.parametrize("name", SCRIPTS)
@pytest.mark.parametrize("value, words", [
    ("-1", "the seed must be from 0 to 4294967295; got -1"),
    (str(2**32), "the seed must be from 0 to 4294967295; got 4294967296"),
    ("1.5", "the seed is a whole number; got '1.5'"),
])
def test_a_bad_seed_is_one_line_and_exit_2(name, value, words, capsys, tmp_path):
    code, out, err = usage_error(name, ["--seed", value, "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and out == ""
    assert err.startswith("brianlab: error:") and len(err.strip().splitlines()) == 1, err
    assert words in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", SWEEPS)
@pytest.mark.parametrize("option, value, words", [
    ("--workers", "0", "the number of workers must be at least 1; got 0"),
    ("--workers", "two", "the number of workers is a whole number"),
    ("--out", "", "an empty path"),
])
def test_the_sweep_scripts_check_their_shared_options(name, option, value, words, capsys):
    code, out, err = usage_error(name, [option, value], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and words in err, err


@pytest.mark.parametrize("name", [n for n in SWEEPS if n != "ring_phase"])
def test_seeds_per_point_must_be_at_least_one(name, capsys):
    code, _, err = usage_error(name, ["--seeds", "0"], capsys)
    assert code == 2 and "the number of seeds must be at least 1; got 0" in err


def test_the_sweep_arguments_and_their_defaults(tmp_path):
    parser = add_sweep_arguments(ArgumentParser(prog="x"), tmp_path / "default")
    args = parser.parse_args([])
    assert (args.seed, args.seeds, args.out, args.set, args.scheduler, args.workers) == (
        0, 3, tmp_path / "default", [], "local", None)
    args = parser.parse_args(["--seed", str(2**32 - 1), "--seeds", "2", "--set", "a=1", "--set", "b=2",
                              "--workers", "4", "--scheduler", "tcp://host:8786"])
    assert (args.seed, args.seeds, args.set, args.workers, args.scheduler) == (
        2**32 - 1, 2, ["a=1", "b=2"], 4, "tcp://host:8786")
    assert not hasattr(add_sweep_arguments(ArgumentParser(), tmp_path, seeds=None).parse_args([]), "seeds")


def test_run_script_turns_an_error_the_user_can_fix_into_one_line(capsys):
    def main(argv):
        raise BrianlabError("parameter 'tau_m' has the wrong unit\n(a second line)")

    assert run_script(main, []) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "brianlab: error: parameter 'tau_m' has the wrong unit (a second line)\n"
    assert run_script(lambda argv: None, []) == 0


def run_module(*argv, cwd):
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_from_the_shell_a_bad_seed_is_one_line_without_a_traceback(tmp_path):
    done = run_module("brianlab.runs.ring_phase", "--seed", "-1", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("brianlab: error:") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "(see 'python -m brianlab.runs.ring_phase --help')" in done.stderr
    assert not list(tmp_path.iterdir())  # nothing written in the working directory either


def test_from_the_shell_a_bad_parameter_is_one_line_without_a_traceback(tmp_path):
    done = run_module("brianlab.runs.lif_devices", "--device", "runtime", "--set", "tau_m=ms+mV",
                      "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("brianlab: error:") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "it adds or subtracts quantities of different units" in done.stderr
    assert not (tmp_path / "out").exists()
