"""Command-line arguments shared by ``brianlab`` and the ``runs/`` scripts: the parser, the device and sweep options, the seed.

Each option's ``type`` checks its value, so a bad one is a one-line usage error
(:class:`ArgumentParser` prints it as ``brianlab: error: ...``, exit 2) before
anything is built or written; :func:`run_script` gives a script's
:class:`~brianlab.errors.BrianlabError` the same one line.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from brianlab import devices
from brianlab.errors import BrianlabError
from brianlab.runner import MAX_SEED, MAX_THREADS

__all__ = ["ArgumentParser", "add_device_arguments", "add_sweep_arguments", "device_options", "run_script",
           "seed_value", "whole_number"]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, its usage errors as one ``brianlab: error:`` line (exit 2) like every other error.

    Without a ``prog``, a script started as ``python -m brianlab.runs.NAME`` is
    named so in its usage and its errors.
    """

    def __init__(self, *args, **kwargs):
        if not args and kwargs.get("prog") is None:
            spec = getattr(sys.modules.get("__main__"), "__spec__", None)
            if spec is not None and spec.name.startswith("brianlab."):
                kwargs["prog"] = f"python -m {spec.name}"
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        print(f"brianlab: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def run_script(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
    """Run a ``runs/`` script's ``main(argv)``: exit status 0, or 2 with one ``brianlab: error:`` line.

    A :class:`~brianlab.errors.BrianlabError` (a value the user can fix) is
    printed as that one line instead of a traceback; usage errors already are
    (:class:`ArgumentParser`).
    """
    try:
        code = main(argv)
    except BrianlabError as exc:
        message = " ".join(str(exc).split("\n"))  # one line, whatever the message held
        print(f"brianlab: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("brianlab: interrupted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0


def whole_number(low: int, high: int | None = None, what: str = "a whole number"):
    """An argparse ``type``: an int in ``low`` ... ``high`` (``high`` None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} is a whole number; got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}; got {value}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its message
    return parse


#: ``--seed``: 0 ... 2**32 - 1.
seed_value = whole_number(0, MAX_SEED, "the seed")


def _compute_capability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the compute capability is a number such as 9.0; got {text!r}") from None
    if not math.isfinite(value) or not 1 <= value < 100:
        raise argparse.ArgumentTypeError(f"the compute capability is a number such as 9.0; got {text!r}")
    return value


def _directory(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def add_device_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--device`` and the device options to an argparse parser."""
    group = parser.add_argument_group("device")
    group.add_argument(
        "--device",
        default=None,
        help=f"one of {', '.join(devices.DEVICE_NAMES)} (default: ${devices.ENV_VAR} or runtime)",
    )
    group.add_argument("--threads", type=whole_number(0, MAX_THREADS, "the number of threads"), default=0,
                       help="cpp_standalone: OpenMP threads (0: none)")
    group.add_argument("--build-dir", type=_directory, default=None,
                       help="standalone: build the project in a new directory of its own under this one")
    group.add_argument("--gpu-id", type=whole_number(0, None, "the GPU id"), default=None,
                       help="cuda_standalone: GPU to run on")
    group.add_argument(
        "--compute-capability", type=_compute_capability, default=None,
        help="cuda_standalone: compile for this (e.g. 9.0)"
    )
    group.add_argument(
        "--compile-only", action="store_true", help="standalone: generate and compile, do not run"
    )
    group.add_argument(
        "--codegen", default="auto", choices=("auto", "cython", "numpy"), help="runtime: code generation target"
    )
    return parser


def add_preset_argument(
    parser: argparse.ArgumentParser,
    help: str = "start from a named --set list of the model ('brianlab show MODEL' lists them)",
) -> argparse.ArgumentParser:
    """Add ``--preset NAME`` to ``parser``: a model's named ``--set`` list, applied before the user's own ``--set``."""
    parser.add_argument("--preset", default=None, metavar="NAME", help=help)
    return parser


def add_sweep_arguments(
    parser: argparse.ArgumentParser,
    out: Path,
    *,
    seeds: int | None = 3,
    seed_help: str = "first seed, 0 ... 2**32-1 (default 0)",
    set_help: str = "set a parameter for every point; repeatable",
) -> argparse.ArgumentParser:
    """Add the options of a ``runs/`` sweep script to ``parser``.

    ``--seed`` (0 ... 2**32-1), ``--seeds`` (seeds per point, at least 1, default
    ``seeds``; left out when ``seeds`` is None), ``--out`` (default ``out``),
    ``--set NAME=VALUE`` (repeatable), ``--scheduler`` and ``--workers`` (at
    least 1; default one per core).
    """
    parser.add_argument("--seed", type=seed_value, default=0, help=seed_help)
    if seeds is not None:
        parser.add_argument("--seeds", type=whole_number(1, None, "the number of seeds"), default=seeds,
                            help=f"seeds per point (default {seeds})")
    parser.add_argument("--out", type=_directory, default=out, help=f"results directory (default {out})")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=set_help)
    parser.add_argument("--scheduler", default="local", help="'local' or a Dask scheduler address")
    parser.add_argument("--workers", type=whole_number(1, None, "the number of workers"), default=None,
                        help="local cluster size (default: one per core)")
    return parser


def device_options(args: argparse.Namespace) -> devices.DeviceOptions:
    """:class:`~brianlab.devices.DeviceOptions` from parsed arguments."""
    return devices.DeviceOptions(
        threads=args.threads,
        build_dir=args.build_dir,
        gpu_id=args.gpu_id,
        compute_capability=args.compute_capability,
        compile_only=args.compile_only,
        codegen_target=args.codegen,
    )
