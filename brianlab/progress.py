"""One progress bar per run: simulated time done out of the run's whole, on stderr (tqdm).

A :class:`RunProgress` lives on a :class:`~brianlab.devices.DeviceSession`. Every
run of a :class:`~brianlab.simulation.Program` adds its simulated duration to it,
while it runs: on ``runtime`` through Brian's ``report`` callback, on standalone
devices by following the report lines that the binary writes to its
``stdout.txt`` (the report function compiled into it, :data:`STANDALONE_REPORT`).
A model labels its phases (``session.phase("training")``) and may say up front
how much simulated time the whole run takes (``session.expect(seconds)``); without
that, the total grows by each program run's duration as it starts. When the run
ends the bar is completed and closed.

The bar is drawn only when stderr is a terminal. Brian's own report lines are
printed (to stderr) only with ``verbose``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["RunProgress", "STANDALONE_REPORT", "REPORT_PERIOD_S"]

#: Body of the report function compiled into a standalone binary (Brian's
#: ``report=`` code string): one machine-readable line per report, flushed.
STANDALONE_REPORT = (
    'std::cout << "brianlab-progress " << completed << " " << elapsed << " " << duration'
    " << std::endl << std::flush;"
)
#: Wall seconds between two reports of a running network.
REPORT_PERIOD_S = 0.5

_LINE = re.compile(r"^brianlab-progress (\S+) (\S+) (\S+)\s*$")
_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.3g}/{total:.3g} s simulated [{elapsed}<{remaining}]"


def _brian_line(completed: float, elapsed: float, duration: float) -> str:
    """A report line in the words of Brian's own text report."""
    if completed <= 0:
        return f"Starting simulation for duration {duration:g} s"
    line = f"{completed * duration:.4g} s ({int(completed * 100)}%) simulated in {elapsed:.1f}s"
    if completed < 1:
        line += f", estimated {(1 - completed) / completed * elapsed:.0f}s remaining."
    return line


class RunProgress:
    """The progress bar of one run.

    Parameters
    ----------
    label : str
        What runs (the model's name); the bar reads ``label · phase``.
    enabled : bool
        Show the bar (only drawn when ``stream`` is a terminal).
    verbose : bool
        Also print Brian-style report lines (``0.5 s (50%) simulated in 2.0s``).
    stream : file, optional
        Where to draw (default: ``sys.stderr`` at the time of drawing).

    Attributes
    ----------
    done_s : float
        Simulated seconds finished so far (all program runs).
    total_s : float
        The simulated seconds of the whole run, as expected so far.
    """

    def __init__(self, label: str = "", enabled: bool = True, verbose: bool = False, stream: TextIO | None = None):
        self.label = label
        self.verbose = verbose
        self._stream = stream
        out = self.stream
        self.enabled = bool(enabled) and hasattr(out, "isatty") and out.isatty()
        self.done_s = 0.0
        self.total_s = 0.0
        self.phase_name = ""
        self._current = 0.0  # simulated seconds of the program run in progress
        self._lock = threading.Lock()
        self._bar = None

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def active(self) -> bool:
        """Whether anything is shown: the bar or the verbose report lines."""
        return self.enabled or self.verbose

    # -- what models say ----------------------------------------------------------

    def expect(self, seconds: float) -> None:
        """The whole run simulates ``seconds`` (all phases); sets the bar's total."""
        with self._lock:
            self.total_s = max(float(seconds), self.done_s + self._current)
            self._draw()

    def phase(self, name: str) -> None:
        """Label what runs from now on (``"training"``, ``"frozen test"``)."""
        with self._lock:
            self.phase_name = name
            self._draw()

    # -- what programs report -----------------------------------------------------------

    @contextlib.contextmanager
    def building(self, duration_s: float) -> Iterator[None]:
        """A program being built (and compiled) before its first run of ``duration_s``."""
        with self._lock:
            saved = self.phase_name
            self.phase_name = f"{saved} (building)" if saved else "building"
            if self.total_s < self.done_s + float(duration_s):
                self.total_s = self.done_s + float(duration_s)
            self._draw()
        try:
            yield
        finally:
            with self._lock:
                self.phase_name = saved
                if self._bar is not None and self.done_s == 0:
                    self._bar.reset(total=max(self.total_s, 1e-12))  # time left: from simulating, not compiling
                self._draw()

    @contextlib.contextmanager
    def running(self, duration_s: float, follow: str | Path | None = None) -> Iterator[None]:
        """A program run of ``duration_s`` simulated seconds, in the ``with`` block.

        ``follow``: a standalone binary's ``stdout.txt``, read for report lines
        (:data:`STANDALONE_REPORT`) while the block runs.
        """
        duration_s = float(duration_s)
        with self._lock:
            if self.total_s < self.done_s + duration_s - 1e-12:
                self.total_s = self.done_s + duration_s
            self._current = 0.0
            self._draw()
        follower = _Follower(Path(follow), self) if follow is not None and self.active else None
        if follower is not None:
            follower.start()
        try:
            yield
        finally:
            if follower is not None:
                follower.stop()
            with self._lock:
                self.done_s += duration_s
                self._current = 0.0
                self._draw()

    def report(self, completed: float, elapsed_s: float, duration_s: float) -> None:
        """The program run in progress has simulated the fraction ``completed`` of ``duration_s``."""
        with self._lock:
            self._current = max(0.0, min(1.0, float(completed))) * float(duration_s)
            if self.verbose:
                self._write(_brian_line(completed, elapsed_s, duration_s))
            self._draw()

    def runtime_callback(self):
        """Brian's ``report=`` function for ``Network.run`` on runtime."""

        def report(elapsed, completed, start, duration):
            self.report(float(completed), float(elapsed), float(duration))

        return report

    def close(self, complete: bool = True) -> None:
        """End the bar; ``complete``: the run finished, so everything expected is done (100%)."""
        with self._lock:
            if complete:
                self.total_s = self.done_s
            self._draw()
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    # -- drawing -------------------------------------------------------------------------

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def _draw(self) -> None:
        if not self.enabled:
            return
        if self._bar is None and self.total_s <= 0:
            return
        from tqdm import tqdm

        desc = " · ".join(part for part in (self.label, self.phase_name) if part)
        if self._bar is None:
            # A pseudo-terminal of unknown size says 0 (shutil) or -1 (tqdm, which then draws nothing).
            size = shutil.get_terminal_size((100, 24))
            self._bar = tqdm(total=self.total_s, desc=desc, file=self.stream, bar_format=_FORMAT,
                             ncols=min(size.columns or 100, 120), nrows=max(size.lines, 2),
                             mininterval=0.2, smoothing=0.1)
        self._bar.total = max(self.total_s, 1e-12)
        self._bar.n = min(self.done_s + self._current, self._bar.total)
        self._bar.set_description_str(desc, refresh=False)
        self._bar.refresh()


class _Follower(threading.Thread):
    """Reads report lines from a growing file while a binary writes it."""

    def __init__(self, path: Path, progress: RunProgress, poll_s: float = 0.1):
        super().__init__(daemon=True)
        self.path = path
        self.progress = progress
        self.poll_s = poll_s
        self._stop_event = threading.Event()
        self._offset = 0
        self._partial = ""

    def run(self) -> None:
        while not self._stop_event.wait(self.poll_s):
            self._read()
        self._read()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)

    def _read(self) -> None:
        try:
            with open(self.path) as f:
                f.seek(self._offset)
                text = f.read()
                self._offset = f.tell()
        except OSError:
            return
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            match = _LINE.match(line)
            if match:
                try:
                    completed, elapsed, duration = map(float, match.groups())
                except ValueError:
                    continue
                self.progress.report(completed, elapsed, duration)
            elif line.strip() and self.progress.verbose:
                with self.progress._lock:
                    self.progress._write(line)

