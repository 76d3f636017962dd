"""Progress of long loops (optimization steps, coding a pool), wherever the code runs.

``bar(total, desc, enabled)`` is a tqdm bar, chosen by where the output goes:

- in Jupyter, with ``enabled`` (a notebook's ``interactive`` runs): tqdm's notebook widget;
- under the runner (``python -m mfv_utils.run`` sets ``MFV_PROGRESS`` for the kernel): ``tty``, a
  text bar on stderr that the runner shows live; ``lines``, a compact log for a file or CI: one
  line when the loop starts and one when it ends, with its seconds; ``quiet`` or unset: nothing
  (unless ``enabled``).
"""
from __future__ import annotations

import os
import sys
import time

from tqdm.auto import tqdm as auto_tqdm
from tqdm.std import tqdm as text_tqdm

ENV = "MFV_PROGRESS"


class _Lines:
    """A tqdm stand-in that writes one line at the start and one at the end (non-TTY output)."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n = total, desc, 0
        self.t0 = time.perf_counter()
        print(f"  {desc}: {total} steps ...", file=sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        print(f"  {self.desc}: {self.n}/{self.total} steps in {time.perf_counter() - self.t0:.1f} s",
              file=sys.stderr, flush=True)

    def __iter__(self):
        for i in range(self.total):
            yield i
            self.update()
        self.close()


class _Off:
    def __init__(self, total: int):
        self.total = total

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __iter__(self):
        return iter(range(self.total))


def mode() -> str:
    """What the runner asked for: ``tty``, ``lines`` or ``quiet`` (also when unset)."""
    value = os.environ.get(ENV, "quiet")
    return value if value in ("tty", "lines") else "quiet"


def bar(total: int, desc: str, enabled: bool = False):
    """A progress bar over ``total`` steps (iterate it, or call ``update`` and ``close``)."""
    how = mode()
    if how == "tty":
        return text_tqdm(range(total), total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)
    if how == "lines":
        return _Lines(total, desc)
    if enabled:
        return auto_tqdm(range(total), total=total, desc=desc)
    return _Off(total)
