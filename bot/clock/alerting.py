"""Alerts after each refresh: evaluate the rules, keep only what was not said already, post once."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from slack_sdk import WebClient

from insights.alerts import Finding, evaluate
from insights.kinds import AlertKind
from insights.snapshot import Snapshot

from bot.clock.once import Message, Posting, post_once
from bot.slack.blocks import assemble_blocks, fallback_text, styled_labels
from bot.core.render import render, value
from bot.core.scope import REP
from bot.store import Store

log = logging.getLogger(__name__)

EVENT_TYPE = "sales_alert"  # message metadata that lets a recovering run find its own post


@dataclass(frozen=True)
class AlertPolicy:
    channel: str | None
    cooldown: dt.timedelta = dt.timedelta(days=7)
    margin_pp: float = 2.0
    stale_after: dt.timedelta = dt.timedelta(hours=24)
    max_set_aside_share: float = 0.05
    snooze: dt.timedelta = dt.timedelta(days=7)

    def margin(self, kind: AlertKind | str) -> float:
        """The worsening that re-alerts, in the finding's own unit (rates are fractions)."""
        return self.margin_pp / 100 if AlertKind(kind).rate_valued else self.margin_pp


def findings_now(store: Store, snapshot: Snapshot | None, now: dt.datetime, policy: AlertPolicy,
                 refresh_error: str | None = None, reps: bool = True) -> list[Finding]:
    """What the active, unmuted rules find now, plus the data alerts (failed or stale refresh, bad rows).
    Without `reps` (the alert channel's readers may not all see reps; `snapshot` then has no rep
    dimension) rules about a rep are not evaluated, so no finding names one."""
    found = []
    rules = [r for r in store.rules() if not r.muted(now) and (reps or all(d != REP for d, _ in r.filters))]
    if snapshot is not None:
        found.extend(evaluate(snapshot, [r.rule() for r in rules if r.kind is not AlertKind.DATA]))
    found.extend(data_findings(store, snapshot, now, policy, refresh_error))
    return found


def data_findings(store: Store, snapshot, now, policy: AlertPolicy, refresh_error) -> list[Finding]:
    day = now.date().isoformat()  # a standing data problem pings at most once a day
    out = []
    if refresh_error:
        out.append(Finding(rule_id=0, kind=AlertKind.DATA, segment={"problem": "refresh_failed"}, label="data refresh",
                           period=day, value=None, details={"problem": "refresh_failed", "error": refresh_error}))
    last_good = store.last_refresh(ok=True)
    if last_good and now.replace(tzinfo=None) - last_good["finished_at"] > policy.stale_after:
        out.append(Finding(rule_id=0, kind=AlertKind.DATA, segment={"problem": "stale"}, label="data freshness", period=day,
                           value=None, details={"problem": "stale",
                                                "last_good": last_good["finished_at"].strftime("%Y-%m-%d %H:%M UTC")}))
    if snapshot is not None and snapshot.report.rows_read:
        share = snapshot.report.rows_set_aside / snapshot.report.rows_read
        if share > policy.max_set_aside_share:
            out.append(Finding(rule_id=0, kind=AlertKind.DATA, segment={"problem": "set_aside"}, label="data quality",
                               period=day, value=share, details={"problem": "set_aside", "share": share,
                                                                 "rows": snapshot.report.rows_set_aside,
                                                                 "reasons": snapshot.report.set_aside}))
    return out


def alert_text(finding: Finding) -> str:
    return render("text/alert.j2", f=finding)


def finding_labels(finding: Finding) -> tuple[str, ...]:
    """The values from the data an alert's text shows (its segment's labels, a lead source it is compared
    with, a driver's reference, a deal id, a rep) whose styling characters could restyle it in Slack
    (bot.slack.blocks.styled_labels); none for the bot's own data alerts."""
    if finding.kind == AlertKind.DATA:
        return ()
    values = [finding.label, *finding.segment.values()]
    values += [v for k, v in finding.details.items() if isinstance(v, str) and k != "baseline_label"]
    return styled_labels(None, also=[value(v) for v in values])  # as printed: a deal id through `value`


def alert_message(finding: Finding, note: str | None = None, buttons: bool = True) -> Message:
    """The alert as posted: its notification text and blocks, a CRM label in it shown as written."""
    labels = finding_labels(finding)
    text = alert_text(finding)
    return Message(fallback_text(text, labels), alert_blocks(finding, note, buttons, labels))


def alert_blocks(finding: Finding, note: str | None = None, buttons: bool = True,
                 labels: tuple[str, ...] | None = None) -> list[dict]:
    return assemble_blocks(alert_text(finding), template="blocks/alert.json.j2", after=[note] if note else [],
                           fingerprint=finding.fingerprint, buttons=buttons,
                           labels=finding_labels(finding) if labels is None else labels)


@dataclass(frozen=True)
class Posted:
    fingerprint: str
    status: str  # posted | recovered | skipped | failed
    ts: str | None = None


def post_alerts(client: WebClient, store: Store, findings: list[Finding], policy: AlertPolicy,
                now: dt.datetime, scope_note: str | None = None) -> list[Posted]:
    """Post each finding once. One that cannot be claimed, built or posted is logged and counted as
    failed; it never stops the others. `scope_note`: the line saying which deals the channel's readers
    all see, when that is not every deal (an alert about "all deals" is about those)."""
    out = []
    for finding in findings:
        try:
            out.append(post_alert(client, store, finding, policy, now, scope_note))
        except Exception:
            log.exception("alert %s (%s) could not be posted", finding.fingerprint, finding.label[:80])
            try:
                store.alert_failed(finding.fingerprint)
            except Exception:
                log.exception("alert %s could not be marked failed", finding.fingerprint)
            out.append(Posted(finding.fingerprint, "failed"))
    return out


def post_alert(client: WebClient, store: Store, finding: Finding, policy: AlertPolicy, now: dt.datetime,
               scope_note: str | None = None) -> Posted:
    ledger = store.alert_ledger(finding, policy.cooldown, policy.margin(finding.kind))
    if not policy.channel:
        if ledger.claim(now).owned:
            log.warning("alert %s not posted: ALERT_CHANNEL is not set", finding.fingerprint)
            ledger.failed()
            return Posted(finding.fingerprint, "failed")
        return Posted(finding.fingerprint, "skipped")
    posting = Posting(ledger, EVENT_TYPE, {"fingerprint": finding.fingerprint}, policy.channel,
                      f"alert {finding.fingerprint} to {policy.channel}")
    posted = post_once(client, posting, lambda: alert_message(finding, note=scope_note), now)
    return Posted(finding.fingerprint, "skipped" if posted.status == "already" else posted.status, posted.ts)
