"""Web processes don't schedule anything; they follow the clock's refreshes through the state store."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from bot.core.data import DealData
from bot.store import Store, naive_utc

log = logging.getLogger(__name__)


def sync_once(data: DealData, store: Store) -> str:
    """Reload when the clock has refreshed since this process loaded; mirror a failed refresh.
    Returns what it did: reloaded, failed, unchanged."""
    latest = store.last_refresh()
    if latest is None:
        return "unchanged"
    if not latest["ok"]:
        data.last_error = latest["error"] or "the latest refresh failed"
        return "failed"
    current = data.current
    if current is not None and latest["finished_at"] <= naive_utc(current.loaded_at):
        if data.last_error:
            data.last_error = None
        return "unchanged"
    return "reloaded" if data.refresh(check=False).ok else "failed"  # the clock judged this data already


def follow_clock(data: DealData, store: Store, every: dt.timedelta = dt.timedelta(seconds=60)) -> threading.Thread:
    stop = threading.Event()

    def loop():
        while not stop.wait(every.total_seconds()):
            try:
                outcome = sync_once(data, store)
                if outcome != "unchanged":
                    log.info("followed the clock's refresh: %s", outcome)
            except Exception:  # the database may be briefly away; try again next time
                log.exception("could not follow the clock's refresh")

    thread = threading.Thread(target=loop, name="follow-clock", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
