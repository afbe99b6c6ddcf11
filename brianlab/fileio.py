"""File locks and atomic writes: the two file idioms that brianlab's modules share.

- :func:`try_lock` holds an exclusive ``flock`` on a lock file for as long as the
  returned handle is open (the kernel drops it when the process dies, so a
  killed process never leaves a stale lock).
- :func:`write_atomically` and :func:`write_text_atomically` write into a hidden
  temporary file next to the target and rename it over the target, so a reader
  sees the old file or the new one, never half of one.
- :func:`rename_no_replace` moves a finished file or directory into place and
  refuses, atomically where the kernel allows it, if something is already there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["try_lock", "write_atomically", "write_text_atomically", "rename_no_replace"]


def try_lock(path: str | Path, wait: bool = False) -> IO | None:
    """An open file holding an exclusive lock on ``path``, or None if another process holds it.

    Parameters
    ----------
    path : Path
        The lock file (created if missing; its contents are never read).
    wait : bool
        Block until the lock is free instead of returning None.

    Returns
    -------
    file object or None
        Close it to release the lock.
    """
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    except BaseException:
        handle.close()
        raise
    return handle


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    The temporary file (``.NAME.PID.tmp`` beside ``path``) is removed if
    ``write`` raises, and ``path`` is left as it was.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Replace ``path`` by a file holding ``text``, atomically (see :func:`write_atomically`)."""
    return write_atomically(path, lambda temporary: temporary.write_text(text))


_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


@functools.lru_cache(maxsize=1)
def _renameat2():
    """glibc's ``renameat2`` (Linux 3.15+), or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def rename_no_replace(source: str | Path, target: str | Path) -> Path:
    """Rename ``source`` to ``target``; raise FileExistsError if ``target`` exists.

    On Linux the check and the rename are one step (``renameat2`` with
    ``RENAME_NOREPLACE``), so of two processes renaming to the same target at
    once exactly one succeeds. Elsewhere (or on a filesystem without it) the
    check comes just before the rename.
    """
    source, target = Path(source), Path(target)
    function = _renameat2()
    if function is not None:
        if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return target
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), str(target))
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(source), None, str(target))
    if target.exists():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(source, target)
    return target
