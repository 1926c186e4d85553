"""One status line on stderr: redrawn in place on a terminal, one line per change when piped or logged."""

from __future__ import annotations

import sys
from typing import TextIO

_CLEAR_LINE = "\r\x1b[K"  # carriage return, then erase to the end of the line (ECMA-48 EL)


class StatusLine:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._last_key: str | None = None
        self._drawn = False

    def show(self, text: str, *, key: str) -> None:
        """Draw `text`. Off a terminal only a new `key` is printed, so logs get one line per change,
        not one per tick of the elapsed time."""
        if self.live:
            self.stream.write(_CLEAR_LINE + text)
            self._drawn = True
        elif key != self._last_key:
            self.stream.write(text + "\n")
        self._last_key = key
        self.stream.flush()

    def clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(_CLEAR_LINE)
            self.stream.flush()
            self._drawn = False


def bar(done: int, total: int, width: int = 24) -> str:
    filled = width if total == 0 else width * done // total
    return "[" + "#" * filled + "-" * (width - filled) + "]"
