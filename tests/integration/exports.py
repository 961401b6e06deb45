"""What the messy-export tests share: a CRO allowed to ask, and a deal file refreshed as the bot loads it."""
from __future__ import annotations

from bot.core.access import Asker, Policy
from bot.core.data import DealData


def refreshed(path) -> DealData:
    data = DealData(str(path))
    assert data.refresh().ok
    return data


def cro() -> Asker:
    return Policy(users=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")
