"""What a front end shows for one question: the words, and the chart and table made from the same view."""
from __future__ import annotations

from dataclasses import dataclass, field

from insights.deals import deals_csv
from insights.load import DataError
from insights.results import Result
from insights.snapshot import Snapshot

from bot.core.charts import Chart, chart_or_none
from bot.core.render import render


@dataclass(frozen=True)
class Reply:
    """kind: answer, help, usage (the text could not be used), refused (access) or error (no data, a bug)."""

    command: str
    kind: str
    text: str
    result: Result | None = None
    line: str = ""  # the command line answered ("/why region=APAC last quarter"), for follow-ups
    reading: str = ""  # how a plain question was read ("Trend of win rate · APAC"); empty for a command
    choices: tuple[tuple[str, str], ...] = ()  # (label, command line): other readings, or the ones asked back
    # the snapshot that answered (scoped, and without reps when they may not be named): the chart and
    # the table are made from it, so they can show no more than the text
    view: Snapshot | None = field(default=None, repr=False, compare=False)
    # values from the data the text prints that are not segment labels (deal ids, bot.core.render.value):
    # with the view's labels, what Slack must show as written (bot.slack.blocks.styled_labels)
    shown: tuple[str, ...] = field(default=(), repr=False, compare=False)
    question: str = ""  # the plain question this replies to (empty for a command line)
    unsupported: bool = False  # ... and whether it asks for what no analysis measures
    note: str = ""  # ... and why it is asked back, when known ("No deals closed in 2019Q3: …")
    contested: bool = False  # ... and whether it was asked back because careful readers read it two ways

    @property
    def ok(self) -> bool:
        return self.kind in ("answer", "help")

    @property
    def asked_back(self) -> bool:
        """A plain question read with too little confidence: `choices` are its likeliest readings."""
        return self.kind == "usage" and not self.command and bool(self.choices)

    def chart(self) -> Chart | None:
        """The answer's chart (None when it has none, or drawing failed)."""
        return chart_or_none(self.result) if self.kind == "answer" else None

    def table(self) -> bytes | None:
        """/deals' CSV of the deals behind the number, from the view that answered; None for other answers."""
        if self.kind != "answer" or self.command != "deals" or self.view is None or not self.result.count:
            return None
        return deals_csv(self.view, self.result.query)

    def table_or_error(self) -> tuple[bytes | None, str | None]:
        """`table()`, or (None, a sentence) when its deals could not be read: a stream from where they live
        stopped part way (a chunk's query past the engine's timeout, the source gone)."""
        try:
            return self.table(), None
        except DataError as exc:
            return None, render("text/table_failed.j2", error=str(exc)).strip()
