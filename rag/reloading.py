"""A settings file read again when it changes (the keys, groups and access-rules files).

One stat per use tells whether the file changed. An edit that does not parse leaves the previous
content in force (and says why in the log) rather than opening or closing everything at once; the
first read, at start-up, raises instead, so a broken file stops the server with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from rag.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReloadingFile(Generic[T]):
    def __init__(self, path: Path, setting: str, parse: Callable[[str], T]) -> None:
        """``parse(text)`` turns the file's text into its content, raising ConfigError if it cannot."""
        self._path = path
        self._setting = setting
        self._parse = parse
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._content = self._load()

    def _load(self) -> T:
        try:
            stat = self._path.stat()
            text = self._path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read {self._setting} {self._path}: {exc.strerror or exc}.") from exc
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        return self._parse(text)

    @property
    def content(self) -> T:
        with self._lock:
            try:
                stat = self._path.stat()
                changed = (stat.st_mtime_ns, stat.st_size) != self._stamp
            except OSError:
                changed = False  # being replaced: keep what we have
            if changed:
                try:
                    self._content = self._load()
                    log.info("%s reloaded from %s", self._setting, self._path)
                except ConfigError as exc:
                    log.error("%s The previous content stays in force.", exc.message)
            return self._content
