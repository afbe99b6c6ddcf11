"""Command-line arguments shared by ``brianlab`` and the ``runs/`` scripts: the device options."""

from __future__ import annotations

import argparse
from pathlib import Path

from brianlab import devices

__all__ = ["add_device_arguments", "device_options"]




def add_device_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--device`` and the device options to an argparse parser."""
    group = parser.add_argument_group("device")
    group.add_argument(
        "--device",
        default=None,
        help=f"one of {', '.join(devices.DEVICE_NAMES)} (default: ${devices.ENV_VAR} or runtime)",
    )
    group.add_argument("--threads", type=int, default=0, help="cpp_standalone: OpenMP threads (0: none)")
    group.add_argument("--build-dir", type=Path, default=None, help="standalone: build the project here")
    group.add_argument("--gpu-id", type=int, default=None, help="cuda_standalone: GPU to run on")
    group.add_argument(
        "--compute-capability", type=float, default=None, help="cuda_standalone: compile for this (e.g. 9.0)"
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
