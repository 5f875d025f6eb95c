"""A progress bar on stderr: cases done, counts per status, rate and time left.

On a terminal it redraws one line (at most 10 times a second); otherwise (CI logs, files) it
prints a plain line every 10% or 30 seconds, so logs stay readable.
"""
from __future__ import annotations

import sys
import time

from .statuses import ALL


class Progress:
    def __init__(self, total: int, done: int = 0, stream=None, enabled: bool = True, label: str = ""):
        self.total, self.done = total, done
        self.counts: dict[str, int] = {}
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.label = label
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.start_done = done
        self._last_draw = 0.0
        self._last_line_fraction = -1.0

    def update(self, status: str) -> None:
        self.done += 1
        self.counts[status] = self.counts.get(status, 0) + 1
        self._draw()

    def _line(self) -> str:
        elapsed = time.monotonic() - self.started
        fresh = self.done - self.start_done
        rate = fresh / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        frac = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        counts = " ".join(f"{s} {self.counts[s]}" for s in ALL if self.counts.get(s))
        return (f"{self.label}[{bar}] {self.done}/{self.total} {frac:5.1%}  {counts}  "
                f"{rate:.0f}/s  {elapsed:.0f}s elapsed, ~{left:.0f}s left")

    def _draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if final or now - self._last_draw >= 0.1:
                self.stream.write("\r\033[K" + self._line() + ("\n" if final else ""))
                self.stream.flush()
                self._last_draw = now
            return
        frac = self.done / self.total if self.total else 1.0
        if final or frac - self._last_line_fraction >= 0.1 or now - self._last_draw >= 30:
            self.stream.write(self._line() + "\n")
            self.stream.flush()
            self._last_draw, self._last_line_fraction = now, frac

    def finish(self) -> None:
        self._draw(final=True)
