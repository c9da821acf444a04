"""Wake the SQL tail when another process writes its SQLite file, instead of polling for rows.

Rasa's SQL event broker commits each event to its SQLite file (the file itself, or its `-wal`
and `-journal` companions). `FileChanges` watches the file's directory with Linux inotify (the
kernel tells; nothing runs while nothing is written) and sets `changed` when any of those files
is written. Where inotify is not available (another OS, a filesystem without it, the watch limit
reached) `changed` is never set and the tail falls back to its poll interval.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import struct
from pathlib import Path

logger = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
WATCHED = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of name


class FileChanges:
    """`changed` is set whenever the SQLite file at `path` (or its journal) is written."""

    def __init__(self, path: str) -> None:
        self.changed = asyncio.Event()
        self._prefix = Path(path).name.encode()
        self._fd: int | None = None
        try:
            self._fd = _watch(Path(path).parent)
        except OSError as error:
            logger.info("No file change events for %s (%s): polling only", path, error)
            return
        asyncio.get_running_loop().add_reader(self._fd, self._read)

    @property
    def active(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _read(self) -> None:
        if self._fd is None:  # closed while the loop was calling us
            return
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return
        offset = 0
        while offset + EVENT_HEADER.size <= len(data):
            _wd, _mask, _cookie, length = EVENT_HEADER.unpack_from(data, offset)
            start = offset + EVENT_HEADER.size
            name = data[start : start + length].rstrip(b"\0")
            offset = start + length
            if name.startswith(self._prefix):
                self.changed.set()


def _watch(directory: Path) -> int:
    """An inotify descriptor (non-blocking) watching `directory` for written files."""
    name = ctypes.util.find_library("c")
    if name is None:
        raise OSError("no C library")
    libc = ctypes.CDLL(name, use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        raise OSError("inotify is not available")
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    if libc.inotify_add_watch(fd, os.fsencode(directory), WATCHED) < 0:
        errno = ctypes.get_errno()
        os.close(fd)
        raise OSError(errno, os.strerror(errno))
    return fd
