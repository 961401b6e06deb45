"""Replays: a request Slack signed is valid for five minutes, so a copy of it could be sent again.

`Seen` remembers what was already handled (a request's signature; an event's `event_id`) for longer
than that window, so a copy within it is acknowledged and not acted on again. Per process and in
memory: a copy sent to another web process is still caught by the claim ledgers for the posts the
clock makes, and Slack's own retries carry X-Slack-Retry-Num (see `skip_slack_retries`).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

WINDOW_SECONDS = 600  # Slack's 5-minute signature window, with room for clocks that disagree
MAX_REMEMBERED = 200_000  # about 30 MB at most; beyond it the oldest are forgotten first


class Seen:
    def __init__(self, window: float = WINDOW_SECONDS, limit: int = MAX_REMEMBERED, clock=time.monotonic):
        self.window, self.limit, self.clock = window, limit, clock
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time `key` is offered within the window, False for a copy."""
        now = self.clock()
        with self._lock:
            while self._until and (next(iter(self._until.values())) < now or len(self._until) >= self.limit):
                self._until.popitem(last=False)  # in insertion order, so the oldest go first
            if key in self._until:
                return False
            self._until[key] = now + self.window
            return True
