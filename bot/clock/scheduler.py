"""The clock: APScheduler jobs that refresh the data, raise alerts and post the weekly digest.

Exactly one process runs it (the `clock:` process, or the Socket Mode `worker:`); web processes
never do. Jobs live in the state database (SQLAlchemyJobStore) under fixed ids, so a restart
replaces them instead of adding copies, and a run missed while the process was down is made up
once (coalesce) within its grace time; the digest ledger keeps the digest to one per week.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient

from bot.clock.alerting import AlertPolicy, findings_now, post_alerts
from bot.config import Settings
from bot.core.data import DealData
from bot.clock.digest import DigestOutcome, DigestSchedule, post_digest
from bot.clock.follows import FollowSchedule, post_follows
from bot.core.access import Policy
from bot.core.render import render
from bot.store import Store
from insights.snapshot import Snapshot

log = logging.getLogger(__name__)

REFRESH_JOB, DIGEST_JOB, FOLLOW_JOB = "refresh", "weekly_digest", "followed_questions"
RETRY_JOB = "retry_posts"  # every half lease: a claim a crashed run left, or a failed post, is posted again


@dataclass
class Runtime:
    """Everything the jobs need. The job store keeps only a reference to each job function, never
    live objects; the scheduler's executor (`ClockExecutor`) hands each job this runtime."""

    data: DealData
    store: Store
    client: WebClient
    schedule: DigestSchedule
    policy: AlertPolicy
    refresh_every: dt.timedelta = dt.timedelta(hours=6)
    follows: FollowSchedule | None = None  # None: no follow job
    access: Policy | None = None  # who may see what where: followers, and the digest's and alerts' channels

    @classmethod
    def from_settings(cls, settings: Settings, data: DealData, store: Store, client: WebClient,
                      access: Policy | None = None) -> "Runtime":
        return cls(
            data=data, store=store, client=client,
            schedule=DigestSchedule(settings.digest_channel, settings.digest_day, settings.digest_time,
                                    settings.timezone, dt.timedelta(hours=settings.digest_grace_hours)),
            policy=AlertPolicy(settings.alert_channel, dt.timedelta(days=settings.alert_cooldown_days),
                               settings.alert_margin_pp, dt.timedelta(hours=settings.stale_after_hours),
                               settings.max_set_aside_share),
            refresh_every=dt.timedelta(seconds=settings.refresh_interval_seconds),
            follows=FollowSchedule(settings.digest_day, settings.follow_time, settings.timezone),
            access=access or Policy.from_settings(settings),
        )


class _WithRuntime:
    """A job as the executor runs it: the stored job, with the runtime as its `rt` argument."""

    def __init__(self, job, rt: Runtime):
        self._job, self.kwargs = job, {**job.kwargs, "rt": rt}

    def __getattr__(self, name):
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class ClockExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool, giving every job the runtime it runs against: the live objects
    (data, clients, store) stay with the scheduler that owns them, and no global holds them."""

    def __init__(self, rt: Runtime, max_workers: int = 4):
        super().__init__(max_workers)
        self.rt = rt

    def _do_submit_job(self, job, run_times):
        super()._do_submit_job(_WithRuntime(job, self.rt), run_times)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def refresh_and_alert(rt: Runtime, now: dt.datetime) -> list:
    """Reload the data (keeping the last good on failure), record the run, then post new alerts."""
    clock_started = now_utc()
    outcome = rt.data.refresh()
    finished = now + (now_utc() - clock_started)  # on the caller's clock, so staleness is judged on one
    rt.store.record_refresh(now, finished, outcome.ok, outcome.rows_read, outcome.rows_set_aside, outcome.error)
    snapshot, reps = channel_view(rt, rt.policy.channel)
    findings = findings_now(rt.store, snapshot, now, rt.policy, None if outcome.ok else outcome.error, reps=reps)
    return post_alerts(rt.client, rt.store, findings, rt.policy, now, channel_note(rt, rt.policy.channel))


def channel_note(rt: Runtime, channel: str | None) -> str | None:
    """The line a post into `channel` carries when its readers see only some deals."""
    scope = rt.access.channel(channel).scope if rt.access is not None else None
    if scope is None or scope.unrestricted or scope.empty:
        return None
    return render("text/scope_note.j2", scope=scope.describe(), channel=True)


def channel_view(rt: Runtime, channel: str | None) -> tuple[Snapshot | None, bool]:
    """The data as a post into `channel` may show it (the deals every reader may see, reps only where
    they all may see them), and whether reps may be named; None when they may see no deals at all."""
    reader = rt.access.channel(channel) if rt.access is not None else None
    reps = reader.reps if reader is not None else True
    scope = reader.scope if reader is not None else None
    if scope is not None and scope.empty:
        log.warning("channel %s: its members do not all see any deals (SEGMENT_ACCESS): nothing posted there",
                    channel)
        return None, reps
    loaded = rt.data.view(scope, reps=reps)
    return (loaded.snapshot if loaded is not None else None), reps


def digest_now(rt: Runtime, now: dt.datetime) -> DigestOutcome:
    snapshot, reps = channel_view(rt, rt.schedule.channel)
    notice = None
    if snapshot is None and rt.data.current is not None:  # data, but nothing every reader there may see
        notice = render("text/digest_withheld.j2", channel=rt.schedule.channel)
    return post_digest(rt.client, rt.store, rt.schedule, snapshot, now, rt.data.last_error, reps=reps, notice=notice,
                       note=channel_note(rt, rt.schedule.channel))


def follows_now(rt: Runtime, now: dt.datetime) -> list:
    if rt.follows is None:
        return []
    return post_follows(rt.client, rt.store, rt.data, rt.follows, now, rt.access)


def catch_up(rt: Runtime, now: dt.datetime) -> DigestOutcome:
    """On start: post this week's digest if it is past due, within its grace time, and not yet posted."""
    if not rt.schedule.in_window(now):
        return DigestOutcome("not_due", rt.schedule.period(now))
    return digest_now(rt, now)


def _given(rt: Runtime | None) -> Runtime:
    if rt is None:  # APScheduler checks a job's arguments when it is added, before any executor runs it
        raise RuntimeError("clock jobs run through ClockExecutor, which passes the runtime")
    return rt


# Job entry points, referenced by name ("bot.clock.scheduler:refresh_job") in the job store; the
# executor passes the runtime.
def refresh_job(rt: Runtime | None = None) -> None:
    rt = _given(rt)
    refresh_and_alert(rt, now_utc())


def follow_job(rt: Runtime | None = None) -> None:
    rt = _given(rt)
    outcomes = follows_now(rt, now_utc())
    log.info("followed questions: %s posted", sum(o.status == "posted" for o in outcomes))


def digest_job(rt: Runtime | None = None) -> None:
    rt = _given(rt)
    outcome = digest_now(rt, now_utc())
    log.info("weekly digest: %s %s", outcome.status, outcome.period or "")


def retry_now(rt: Runtime, now: dt.datetime) -> DigestOutcome:
    """The retry tick: inside the digest's window, a claim older than the lease (a crash between
    claim and post) or a failed post is taken over and posted once (after looking whether the crashed
    run had posted); a posted digest costs one look at the ledger. Followed questions and alerts likewise."""
    outcome = catch_up(rt, now)
    if outcome.status in ("posted", "recovered", "failed"):
        log.info("digest retry: %s %s", outcome.status, outcome.period or "")
    follows_now(rt, now)
    retry_alerts(rt, now)
    return outcome


def retry_alerts(rt: Runtime, now: dt.datetime) -> list:
    """Alerts a crash left claimed past the lease, or that failed to post, found again on the current
    data and posted once (one look at the store when there are none)."""
    unsettled = rt.store.unsettled_alerts(now)
    snapshot, reps = channel_view(rt, rt.policy.channel)
    if not unsettled or snapshot is None or not rt.policy.channel:
        return []
    findings = [f for f in findings_now(rt.store, snapshot, now, rt.policy, rt.data.last_error, reps=reps)
                if f.fingerprint in unsettled]
    return post_alerts(rt.client, rt.store, findings, rt.policy, now, channel_note(rt, rt.policy.channel))


def retry_job(rt: Runtime | None = None) -> None:
    rt = _given(rt)
    retry_now(rt, now_utc())


def retry_every(rt: Runtime) -> int:
    """Seconds between retry ticks: half the claim lease (at least one second)."""
    return max(1, int(rt.store.lease.total_seconds() / 2))


def build_scheduler(rt: Runtime) -> BackgroundScheduler:
    hour, minute = (int(x) for x in rt.schedule.time.split(":")[:2])
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=rt.store.engine, tablename="apscheduler_jobs")},
        executors={"default": ClockExecutor(rt)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=rt.schedule.tz,
    )
    scheduler.add_job(
        "bot.clock.scheduler:refresh_job", IntervalTrigger(seconds=int(rt.refresh_every.total_seconds()),
                                                 timezone=rt.schedule.tz),
        id=REFRESH_JOB, name="refresh deal data, then alerts", replace_existing=True,
        misfire_grace_time=int(rt.refresh_every.total_seconds()),
    )
    scheduler.add_job(
        "bot.clock.scheduler:digest_job",
        CronTrigger(day_of_week=rt.schedule.day, hour=hour, minute=minute, timezone=rt.schedule.tz),
        id=DIGEST_JOB, name="weekly Sales Health digest", replace_existing=True,
        misfire_grace_time=int(rt.schedule.grace.total_seconds()),
    )
    scheduler.add_job(
        "bot.clock.scheduler:retry_job", IntervalTrigger(seconds=retry_every(rt), timezone=rt.schedule.tz),
        id=RETRY_JOB, name="post what a crash or a failure left unposted", replace_existing=True,
        misfire_grace_time=retry_every(rt),
    )
    if rt.follows is not None:
        hour, minute = (int(x) for x in rt.follows.time.split(":")[:2])
        scheduler.add_job(
            "bot.clock.scheduler:follow_job",
            CronTrigger(hour=hour, minute=minute, timezone=rt.follows.tz),
            id=FOLLOW_JOB, name="followed questions", replace_existing=True,
            misfire_grace_time=int(rt.schedule.grace.total_seconds()),
        )
    return scheduler


def catch_up_and_log(rt: Runtime, now: dt.datetime) -> None:
    outcome = catch_up(rt, now)
    log.info("digest catch-up: %s %s", outcome.status, outcome.period or "")


def start_clock(rt: Runtime) -> BackgroundScheduler:
    """Refresh and alert once, make up a missed digest, then schedule the jobs."""
    # each start-up step on its own: one that fails (Slack unreachable, a bug) is logged and made up
    # by the scheduled jobs and the retry tick, and never keeps the scheduler from starting
    for step in (refresh_and_alert, catch_up_and_log, follows_now):  # follows due while down: posted once, now
        try:
            step(rt, now_utc())
        except Exception:
            log.exception("start-up step %s failed; the scheduled jobs will try again", step.__name__)
    scheduler = build_scheduler(rt)
    scheduler.start()
    return scheduler
