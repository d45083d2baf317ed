"""What launchbay does with the signals it receives while it supervises a
foreground run (SPEC 13), written once for every CLI path:

- the first SIGINT, SIGTERM, SIGHUP or SIGQUIT is forwarded to the run (the
  same signal), and the tree is killed once the grace has passed;
- a second one kills the tree at once: the tree is never abandoned;
- SIGTSTP (Ctrl+Z) suspends the run's tree, then launchbay itself; SIGCONT
  (``fg``) resumes the tree;
- launchbay then exits 128+N, N being the first signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator, Sequence
from enum import Enum

STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
JOB_CONTROL = (signal.SIGTSTP, signal.SIGCONT)
HANDLED = STOPPING + JOB_CONTROL


class Action(Enum):
    FORWARD = "forward"  # send the signal to the tree, start the grace
    KILL = "kill"  # kill the tree now
    SUSPEND = "suspend"  # freeze the tree, then stop launchbay
    RESUME = "resume"  # thaw the tree


class SignalPolicy:
    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.first: int | None = None

    def on_signal(self, signum: int) -> Action:
        if signum == signal.SIGTSTP:
            return Action.SUSPEND
        if signum == signal.SIGCONT:
            return Action.RESUME
        if self.first is None:
            self.first = signum
            return Action.FORWARD
        return Action.KILL

    @property
    def exit_code(self) -> int | None:
        """128+N once a stopping signal N arrived, else None."""
        return None if self.first is None else 128 + self.first


@contextlib.contextmanager
def signals_to_pipe(signals: Sequence[int] = HANDLED) -> Iterator[int]:
    """Catch ``signals`` with no-op handlers whose numbers ``set_wakeup_fd``
    writes to a pipe, for a ``poll`` loop without an event loop; yields the
    pipe's read end and puts the previous handlers back afterwards."""
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous_handlers = {signum: signal.signal(signum, lambda *_: None) for signum in signals}
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield read_end
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        os.close(read_end)
        os.close(write_end)
