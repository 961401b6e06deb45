"""What the listeners need, handed to them once instead of read from globals."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..access import Access
from ..data import DealData


@dataclass
class Services:
    data: DealData
    access: Access
    charts: bool = True
    rules: Callable[[], list[str]] = field(default=lambda: [])  # active alert rules, worded, for the Home tab
