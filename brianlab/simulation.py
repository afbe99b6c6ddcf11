"""Compile once, run many times: :class:`Program`.

A :class:`Program` wraps a model's ``build()``. On ``cpp_standalone`` and
``cuda_standalone`` it generates and compiles the project on the first
:meth:`Program.run` and every later run only reruns the binary with new values
(Brian's ``run_args``: initial values of variables, synaptic weights, TimedArray
contents) and, optionally, a new seed. On ``runtime`` (and ``genn``, which has no
``run_args``) every run builds the network again with the values applied, so the
meaning of a run is the same on every device.

Values are named by strings: ``"group.variable"`` for a variable of a named
group (``"syn_exc_inh.w"``), or the name of a :class:`~brian2.TimedArray` used in
some group's namespace (``"stimulus"``).

Examples
--------
>>> prog = Program(session, lambda: build(params), params.duration, params.dt)  # doctest: +SKIP
>>> mon = prog.run({"neurons.I": currents})                           # doctest: +SKIP
>>> counts = mon.spikes.count[:]   # read before the next run()      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import time
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import brian2 as b2
import numpy as np
from brian2 import Quantity

if TYPE_CHECKING:
    from brianlab.devices import DeviceSession

__all__ = ["Program", "CompileOnly"]


class CompileOnly(Exception):
    """Raised by :meth:`Program.run` after compiling when ``--compile-only`` was asked.

    The command line catches it and records the build without results.
    """

    def __init__(self, directory: Path | None, build_s: float) -> None:
        super().__init__(f"compiled {directory} (not run: --compile-only)")
        self.directory = directory
        self.build_s = build_s


class Program:
    """A network built once per shape and run with new values.

    Parameters
    ----------
    session : brianlab.devices.DeviceSession
        The active device.
    build : callable
        ``build() -> (Network, monitors)``; must give every object a name.
    duration : Quantity
        Simulated time of one run.
    dt : Quantity, optional
        The time step. The program sets ``defaultclock.dt`` to it right before
        calling ``build``; models create their objects on the default clock
        (brian2cuda's synapse code assumes ``defaultclock``).
    tag : str
        Names the standalone project directory.
    key : hashable, optional
        The network's shape; a session gives a key it has seen before the same
        project directory (see :meth:`~brianlab.devices.DeviceSession.new_project`).

    Attributes
    ----------
    n_builds, n_runs : int
        How often the network was built (compiled, in standalone) and run.
    n_compiles : int
        Standalone: builds after which the binary was new. A project generated
        again, unchanged, into a directory that holds its binary is not
        recompiled (Brian rewrites only changed files), and does not count.
    build_s, run_s : float
        Wall seconds spent building (construction, code generation and
        compilation) and running, summed over all builds and runs.
    network, monitors
        The live network and the monitors record of the latest build. Read
        monitors after a :meth:`run` and before the next one.
    """

    def __init__(
        self,
        session: DeviceSession,
        build: Callable[[], tuple[b2.Network, Any]],
        duration: Quantity,
        dt: Quantity | None = None,
        tag: str = "main",
        key: Hashable | None = None,
    ) -> None:
        self.session = session
        self._build = build
        self.duration = duration
        self.dt = dt
        self.tag = tag
        self.key = key
        self.n_builds = 0
        self.n_compiles = 0
        self.n_runs = 0
        self.build_s = 0.0
        self.run_s = 0.0
        self.network = None
        self.monitors = None
        self.directory = None
        session.programs.append(self)

    @property
    def rerunnable(self) -> bool:
        """Whether runs after the first reuse the compiled project."""
        return self.session.supports_run_args

    def run(self, values: Mapping[str, Any] | None = None, seed: int | None = None, results: str = "results") -> Any:
        """Run the network once and return its monitors record.

        Parameters
        ----------
        values : dict, optional
            ``{"group.variable" or timed-array name: value}``, applied before the run.
        seed : int, optional
            Seed for this run (default: the session's seed).
        results : str
            Standalone: the results folder inside the project, relative. Runs that
            may happen at the same time need different names.

        Raises
        ------
        CompileOnly
            After compiling, when the session was asked to compile only.
        """
        values = dict(values or {})
        seed = self.session.seed if seed is None else int(seed)
        if self.rerunnable:
            if self.network is None:
                self._compile()
            if self.session.options.compile_only:
                raise CompileOnly(self.directory, self.build_s)
            run_args = {self._resolve(key): value for key, value in values.items()}
            self.session.set_run_seed(seed)
            report = Path(self.directory) / results / "stdout.txt"  # where the binary's reports go
            report.unlink(missing_ok=True)
            start = time.perf_counter()
            with self.session.bar.running(float(self.duration), follow=report):
                b2.device.run(
                    directory=str(self.directory),
                    results_directory=results,
                    with_output=False,
                    run_args=run_args,
                )
            self.run_s += time.perf_counter() - start
        else:
            self._build_and_run(values, seed)
        self.n_runs += 1
        return self.monitors

    def _construct(self, seed: int) -> None:
        self.network = self.monitors = None
        # Brian names a code object after the live objects that hold its name:
        # the previous build's objects, still alive in reference cycles, would
        # make this one's names (and so its code) differ, and a cached
        # standalone project would compile again.
        gc.collect()
        self.directory = self.session.new_project(self.tag, key=self.key)
        self.session.seed_network(seed)
        if self.dt is not None:
            b2.defaultclock.dt = self.dt
        network, monitors = self._build()
        self.network, self.monitors = network, monitors
        self.n_builds += 1

    def _compile(self) -> None:
        start = time.perf_counter()
        with self.session.bar.building(float(self.duration)):
            self._build_project()
        self.build_s += time.perf_counter() - start

    def _build_project(self):
        self._construct(self.session.build_seed)
        self.network.run(self.duration, report=self.session.report, report_period=self.session.report_period)
        before = _binary_stamp(self.directory)
        with _main_kept_when_equivalent(self.directory):
            b2.device.build(directory=str(self.directory), compile=True, run=False, with_output=False)
        self.n_compiles += _binary_stamp(self.directory) != before

    def _build_and_run(self, values: Mapping[str, Any], seed: int) -> None:
        start = time.perf_counter()
        self._construct(seed)
        for key, value in values.items():
            target = self._resolve(key)
            if isinstance(target, b2.TimedArray):
                new = np.asarray(value, dtype=float)
                if new.shape != target.values.shape:
                    raise ValueError(
                        f"value for TimedArray {key!r} has shape {new.shape}, expected {target.values.shape}"
                    )
                target.values[...] = new
            else:
                target[:] = value
        self.build_s += time.perf_counter() - start
        start = time.perf_counter()
        follow = Path(self.directory) / "results" / "stdout.txt" if self.session.standalone else None
        with self.session.bar.running(float(self.duration), follow=follow):
            self.network.run(self.duration, report=self.session.report, report_period=self.session.report_period)
            if self.session.standalone:  # genn: no run_args, so each run is a full build
                self.n_compiles += 1
                if self.session.options.compile_only:
                    b2.device.build(directory=str(self.directory), compile=True, run=False)
                    raise CompileOnly(self.directory, time.perf_counter() - start)
                b2.device.build(directory=str(self.directory), compile=True, run=True, with_output=False)
        self.run_s += time.perf_counter() - start

    def _resolve(self, key: str) -> Any:
        """The VariableView or TimedArray named by ``key`` in the built network."""
        if "." in key:
            group_name, variable = key.split(".", 1)
            try:
                group = self.network[group_name]
            except KeyError:
                names = sorted(obj.name for obj in self.network.objects)
                raise KeyError(f"no object {group_name!r} in the network; it has: {', '.join(names)}") from None
            return getattr(group, variable)
        for obj in self.network.objects:
            for candidate in (getattr(obj, "namespace", None) or {}).values():
                if isinstance(candidate, b2.TimedArray) and candidate.name == key:
                    return candidate
        raise KeyError(f"no TimedArray named {key!r} in any group's namespace")


#: A line of main's clock initialisation, which Brian writes in the order of a set of clocks.
_CLOCK_RESET = re.compile(r"^\s*_array_\w*clock_(timestep|t)\[0\] = 0(\.0)?;\s*$")


def _canonical_main(text: str) -> list[str]:
    """``text``'s lines with each run of clock-initialisation lines sorted.

    Brian collects a network's clocks in a set of objects hashed by address, so
    the order of these independent assignments changes from build to build.
    """
    lines, run = [], []
    for line in [*text.splitlines(), None]:
        if line is not None and _CLOCK_RESET.match(line):
            run.append(line)
            continue
        lines.extend(sorted(run))
        run = []
        if line is not None:
            lines.append(line)
    return lines


@contextlib.contextmanager
def _main_kept_when_equivalent(directory: str | Path):
    """While Brian builds a project: keep its previous main source where the new one differs only in clock order.

    The new source is the same program; keeping the old file (and its time)
    leaves ``make`` nothing to recompile in a cached project. Brian writes the
    sources before it compiles, so its device's ``compile_source`` is wrapped to
    restore the file in between.
    """
    device = b2.get_device()
    sources = [Path(directory) / name for name in ("main.cpp", "main.cu")]
    saved = {path: (path.read_text(), path.stat()) for path in sources if path.is_file()}

    def restore_then_compile(*args, **kwargs):
        for path, (text, stat) in saved.items():
            if path.is_file() and path.read_text() != text and _canonical_main(path.read_text()) == _canonical_main(text):
                path.write_text(text)
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return compile_source(*args, **kwargs)

    compile_source = device.compile_source
    device.compile_source = restore_then_compile
    try:
        yield
    finally:
        del device.compile_source


def _binary_stamp(directory: str | Path) -> tuple[int, int, int] | None:
    """(inode, mtime, size) of a standalone project's binary, or None before it exists."""
    for name in ("main", "main.exe"):
        path = Path(directory) / name
        if path.is_file():
            stat = path.stat()
            return stat.st_ino, stat.st_mtime_ns, stat.st_size
    return None
