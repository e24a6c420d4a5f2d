"""Files: written whole or not at all, read within a size limit.

The one atomic writer (:func:`atomic_path`, :func:`write_bytes`) every output goes
through; :func:`size_within`, the size check before reading a file someone handed us, and
:func:`read_limited`, the one bounded read of such a file (sources, catalogs).
"""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path


def special(path) -> bool:
    """True for a path that exists and is neither a regular file nor a folder: a device
    (``/dev/null``, ``/dev/stdout``), a FIFO, a socket. Writing to one writes through it."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temp path beside ``path``; on success it is renamed over ``path``, on any
    failure (Ctrl-C included) it is removed. The file gets the user's umask, not the
    0600 that ``mkstemp`` gives, because outputs are made to be shared.

    A symbolic link is followed: the file it points to is replaced (atomically, beside
    it) and the link stays. A device or FIFO (``-o /dev/null``) is written through, as
    any Unix tool does: it is never replaced by a regular file."""
    path = Path(path)
    if special(path):
        yield str(path)
        return
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    import tempfile  # here, not at the top: reading a source must not pay for it at start-up

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # after writing: some writers (safetensors) make the file anew
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write all of ``data`` to ``path`` or nothing: a temp file beside it, then a rename."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return path


def size_within(path, limit: int, what: str) -> int:
    """The size of ``path`` in bytes, or a PromptError when it is missing, unreadable or over
    ``limit`` (``what`` names the kind of file in the message: "an image")."""
    from .errors import PromptError

    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        raise PromptError(f"{path}: no such file") from None
    except OSError as exc:
        raise PromptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > limit:
        raise PromptError(f"{path}: too large for {what} ({size:,} bytes; at most {limit:,})")
    return size


def read_limited(path, limit: int, what: str) -> bytes:
    """The bytes of ``path``, read whole, or a PromptError when it is missing, unreadable, a
    folder or a device, or longer than ``limit`` bytes (``what`` names the kind of file:
    "a .prompt file").

    The read itself is bounded (at most ``limit + 1`` bytes), so a file that grows, lies
    about its size or never ends cannot exhaust memory. Pipes are read (``<(…)``); a named
    pipe nobody writes to reads as empty instead of blocking, and devices are refused.
    """
    from .errors import PromptError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise PromptError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PromptError(f"{path}: is a folder, not {what}") from None
    except OSError as exc:
        raise PromptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise PromptError(f"{path}: is a folder, not {what}")
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
            raise PromptError(f"{path}: is a device or socket, not {what}")
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise PromptError(f"{path}: too large for {what} ({info.st_size:,} bytes; at most {limit:,})")
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise PromptError(f"{path}: too large for {what} (more than {limit:,} bytes)")
        return b"".join(chunks)
    except OSError as exc:
        raise PromptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
