"""Command-line arguments shared by ``brianlab`` and the ``runs/`` scripts: the device options and the seed.

Each option's ``type`` checks its value, so a bad one is argparse's one-line
usage error (``brianlab`` prints it as ``brianlab: error: ...``, exit 2) before
anything is built or written.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from brianlab import devices
from brianlab.runner import MAX_SEED, MAX_THREADS

__all__ = ["add_device_arguments", "device_options", "seed_value", "whole_number"]


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
