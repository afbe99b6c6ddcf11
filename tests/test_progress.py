"""One progress bar per run: it counts simulated time over all program runs, follows a
standalone binary while it runs, reaches 100% at the end, and stays silent off a terminal."""

import io
import os
import pty
import re
import subprocess
import sys
import threading
import time

import pytest

from brianlab import devices
from brianlab.models import lif
from brianlab.params import apply_assignments
from brianlab.progress import REPORT_PERIOD_S, RunProgress

needs_cpp = pytest.mark.skipif(
    not devices.probe("cpp_standalone").can_run,
    reason=f"cpp_standalone cannot run here: {devices.probe('cpp_standalone').missing}",
)


class Terminal(io.StringIO):
    """A stream that says it is a terminal, and keeps what was drawn."""

    def isatty(self):
        return True


def frames(text):
    """Every state the bar was drawn in (tqdm redraws with a carriage return)."""
    return [f.strip() for f in re.split(r"[\r\n]", text) if "simulated" in f]


def percent(frame):
    return int(re.search(r"(\d+)%\|", frame).group(1))


def test_the_bar_counts_every_program_run_of_every_phase_and_ends_at_100_percent():
    stream = Terminal()
    bar = RunProgress("stdp-digits", stream=stream)
    bar.expect(4.0)
    bar.phase("training")
    for _ in range(2):
        with bar.running(1.0):
            bar.report(0.5, 0.1, 1.0)
            assert bar.done_s + bar._current in (0.5, 1.5)
    bar.phase("frozen test")
    with bar.running(1.0):
        pass
    assert (bar.done_s, bar.total_s) == (3.0, 4.0)  # one expected second was never run
    bar.close()
    drawn = frames(stream.getvalue())
    phases = [f.split(":")[0] for f in drawn]
    assert phases[0] == "stdp-digits" and "stdp-digits · training" in phases
    assert phases[-1] == "stdp-digits · frozen test"
    assert phases.index("stdp-digits · frozen test") > max(k for k, p in enumerate(phases) if p.endswith("training"))
    assert [percent(f) for f in drawn] == sorted(percent(f) for f in drawn)  # never goes back
    percents = [percent(f) for f in drawn]
    assert percents[percents.index(100) - 1] == 75  # 3 of the 4 expected seconds, then completed
    assert percents[-1] == 100 and "3/3 s" in drawn[-1]


def test_without_an_expected_total_the_bar_grows_by_each_run():
    bar = RunProgress("lif", stream=Terminal())
    with bar.running(2.0):
        assert bar.total_s == 2.0
    with bar.running(1.0):
        assert bar.total_s == 3.0
    bar.close()


def test_off_a_terminal_nothing_is_drawn_and_verbose_prints_brians_lines():
    stream = io.StringIO()
    bar = RunProgress("lif", stream=stream)
    assert not bar.enabled and not bar.active
    with bar.running(1.0):
        bar.report(0.5, 1.0, 1.0)
    bar.close()
    assert stream.getvalue() == ""
    verbose = RunProgress("lif", stream=stream, verbose=True)
    with verbose.running(2.0):
        verbose.report(0.25, 1.0, 2.0)
    assert stream.getvalue() == "0.5 s (25%) simulated in 1.0s, estimated 3s remaining.\n"


def test_report_lines_are_followed_while_the_file_grows(tmp_path):
    path = tmp_path / "stdout.txt"
    seen = []
    bar = RunProgress("lif", stream=Terminal())
    bar.report = lambda completed, elapsed, duration: seen.append(completed)  # noqa: E731

    def binary():
        with open(path, "w") as f:
            for k in range(5):
                f.write(f"brianlab-progress {k / 4} {k * 0.1} 2\n")
                f.flush()
                time.sleep(0.15)

    with bar.running(2.0, follow=path):
        writer = threading.Thread(target=binary)
        writer.start()
        time.sleep(0.35)
        assert 0 < len(seen) < 5  # read while the "binary" still runs
        writer.join()
    assert seen == [0.0, 0.25, 0.5, 0.75, 1.0]


@needs_cpp
def test_a_standalone_run_reports_its_progress_while_the_binary_runs(tmp_path):
    params = apply_assignments(lif.LIFParams, ["n_neurons=2000", "duration=50*second"])
    fractions = []
    with devices.DeviceSession("cpp_standalone", build_root=tmp_path, seed=1) as session:
        session.bar = RunProgress("lif", stream=Terminal())
        report = session.bar.report
        session.bar.report = lambda c, e, d: (fractions.append(c), report(c, e, d))  # noqa: E731
        program = session.program(lambda: lif.build(params), params.duration, params.dt, tag="lif")
        program.run(lif.run_values(params))
        n_spikes = len(program.monitors.spikes.i[:])
    assert n_spikes > 0
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    # the binary ran for several report periods (about 3 s here) and reported on the way
    assert program.run_s > 2 * REPORT_PERIOD_S and any(0 < f < 1 for f in fractions)
    assert session.bar.done_s == pytest.approx(50.0)


def test_a_run_in_a_terminal_shows_one_bar_to_100_percent_and_no_report_lines(tmp_path):
    """``brianlab run`` under a pseudo-terminal, as a user sees it."""
    main, child = pty.openpty()
    env = dict(os.environ, COLUMNS="100")
    proc = subprocess.Popen(
        [sys.executable, "-m", "brianlab", "run", "lif", "--codegen", "numpy", "--set", "n_neurons=20",
         "--set", "duration=300*ms", "--out", tmp_path / "run"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child, env=env,
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=300)
    os.close(main)
    assert proc.returncode == 0, seen.decode(errors="replace")
    drawn = frames(seen.decode(errors="replace"))
    assert drawn and all(f.startswith("lif") for f in drawn)
    assert percent(drawn[-1]) == 100 and "0.3/0.3 s simulated" in drawn[-1]
    assert b"Starting simulation" not in seen and b"simulated in" not in seen
    assert b"results:" in stdout and b"simulated" not in stdout


@pytest.mark.parametrize("flag", ["--json", "--quiet"])
def test_json_and_quiet_runs_draw_nothing_even_in_a_terminal(tmp_path, flag):
    main, child = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "brianlab", "run", "lif", "--codegen", "numpy", "--set", "n_neurons=5",
         "--set", "duration=50*ms", "--out", tmp_path / "run", flag],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=child, timeout=300,
    )
    os.close(child)
    os.set_blocking(main, False)
    try:
        err = os.read(main, 65536)
    except (BlockingIOError, OSError):
        err = b""
    os.close(main)
    assert proc.returncode == 0
    assert b"simulated" not in err and b"%|" not in err
    assert b"n_spikes" in proc.stdout
