"""The state store: alert rules, fired alerts, the digest ledger and refresh runs (SQLAlchemy).

SQLite file by default, PostgreSQL via DATABASE_URL. Exactly-once posting rests on claims the
database arbitrates: a digest period or an alert fingerprint is claimed by an INSERT (unique key)
or a conditional UPDATE; whoever's statement changed the row owns the post. Times are stored as
naive UTC.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from insights.alerts import WORSE, AlertRule, Finding
from insights.kinds import AlertKind

from bot.config import PROJECT_ROOT

DEFAULT_DATABASE = PROJECT_ROOT / "var" / "state.sqlite"
DEFAULT_RULES = Path(__file__).resolve().parent / "default_alerts.toml"
# A claim older than this without a post was left by a crash (CLAIM_LEASE_SECONDS): the clock's retry
# tick takes it over, looks up whether the crashed run had posted after all, and posts only if not.
STALE_CLAIM = dt.timedelta(minutes=2)

# The state database not answering (down, restarting, unreachable, its pool exhausted): callers that
# can answer without it catch these, say so in a line, and go on.
STORE_DOWN = (DBAPIError, PoolTimeout)

metadata = MetaData()

alert_rules = Table(
    "alert_rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("filters", Text, nullable=False, default="[]"),
    Column("threshold", Float),
    Column("origin", String(20), nullable=False, default="user"),  # config | user
    Column("created_by", String(40)),
    Column("created_at", DateTime, nullable=False),
    Column("muted_until", DateTime),
    Column("active", Boolean, nullable=False, default=True),
)

fired_alerts = Table(
    "fired_alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(400), nullable=False, unique=True),
    Column("rule_id", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("label", String(200), nullable=False),
    Column("period", String(80), nullable=False),
    Column("value", Float),
    Column("status", String(20), nullable=False),  # claimed | posted | failed
    Column("claimed_at", DateTime, nullable=False),
    Column("posted_at", DateTime),
    Column("channel", String(40)),
    Column("ts", String(40)),
    Column("fire_count", Integer, nullable=False, default=0),
    Column("acknowledged_by", String(40)),
    Column("snoozed_until", DateTime),
)

digest_ledger = Table(
    "digest_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(40), nullable=False),
    Column("period", String(20), nullable=False),  # ISO week, e.g. 2026-W48
    Column("status", String(20), nullable=False),  # claimed | posted | failed
    Column("claimed_at", DateTime, nullable=False),
    Column("posted_at", DateTime),
    Column("ts", String(40)),
    UniqueConstraint("channel", "period", name="uq_digest_channel_period"),
)

follows = Table(
    "follows", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("question", Text, nullable=False),  # the command line, e.g. "/winrate APAC"
    Column("frequency", String(10), nullable=False),  # daily | weekly
    Column("destination", String(40), nullable=False),  # a channel ID, or the user ID for a DM
    Column("user_id", String(40), nullable=False),  # who follows: their access decides what is posted
    Column("created_at", DateTime, nullable=False),
    Column("muted_until", DateTime),
    Column("active", Boolean, nullable=False, default=True),
)

follow_ledger = Table(
    "follow_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("follow_id", Integer, nullable=False),
    Column("period", String(20), nullable=False),  # 2026-12-01 (daily) or 2026-W49 (weekly)
    Column("status", String(20), nullable=False),  # claimed | posted | failed
    Column("claimed_at", DateTime, nullable=False),
    Column("posted_at", DateTime),
    Column("channel", String(40)),
    Column("ts", String(40)),
    UniqueConstraint("follow_id", "period", name="uq_follow_period"),
)

thread_context = Table(  # the last command answered in a thread, which its follow-ups change
    "thread_context", metadata,
    Column("channel", String(40), primary_key=True),
    Column("thread_ts", String(40), primary_key=True),
    Column("line", Text, nullable=False),
    Column("user_id", String(40)),
    Column("updated_at", DateTime, nullable=False),
)

feedback = Table(  # how plain questions were read: 👍/👎, another reading picked, or not read at all
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("user_id", String(40)),
    Column("question", Text, nullable=False),
    Column("line", Text),  # the reading answered; NULL when the question was asked back
    Column("verdict", String(12), nullable=False),  # right, wrong, other (another reading picked), unread
    Column("chosen", Text),  # the reading picked instead, for "other"
)

refresh_runs = Table(
    "refresh_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_set_aside", Integer, nullable=False, default=0),
    Column("error", Text),
)


THREAD_TTL = dt.timedelta(days=7)  # a follow-up after a week's silence starts a new question

# A CRM's local copy (Salesforce, HubSpot): one row per synced record (its fields as JSON), and each source's sync state.
source_records = Table(
    "source_records", metadata,
    Column("source", String(60), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("modstamp", String(40)),
    Column("record", Text, nullable=False),
)

source_sync = Table(
    "source_sync", metadata,
    Column("source", String(60), primary_key=True),
    Column("fields", Text, nullable=False),  # JSON list: a different field list means a full resync
    Column("watermark", String(40)),  # the newest SystemModstamp cached
    Column("rows", Integer, nullable=False, default=0),
    Column("synced_at", DateTime),
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def database_url(url: str | None) -> str:
    """DATABASE_URL as SQLAlchemy wants it: the psycopg (3) driver for PostgreSQL; a local SQLite file by default."""
    if not url:
        DEFAULT_DATABASE.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DEFAULT_DATABASE}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return url


def make_engine(url: str | None) -> Engine:
    return create_engine(database_url(url), pool_pre_ping=True, future=True)


@dataclass(frozen=True)
class StoredRule:
    id: int
    kind: AlertKind
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    threshold: float | None
    origin: str
    muted_until: dt.datetime | None
    created_by: str | None = None

    def rule(self) -> AlertRule:
        return AlertRule(self.id, self.kind, self.filters, self.threshold)

    def muted(self, now: dt.datetime) -> bool:
        return self.muted_until is not None and self.muted_until > naive_utc(now)


@dataclass(frozen=True)
class StoredFollow:
    id: int
    question: str
    frequency: str
    destination: str
    user_id: str
    muted_until: dt.datetime | None

    @property
    def to_dm(self) -> bool:
        return self.destination == self.user_id

    def muted(self, now: dt.datetime) -> bool:
        return self.muted_until is not None and self.muted_until > naive_utc(now)


@dataclass(frozen=True)
class Claim:
    """The answer of a ledger to "may I post this now?"."""

    owned: bool  # this caller must post
    status: str  # the row's status after the claim
    recovering: bool = False  # taken over from a crashed run: check whether it was already posted
    ts: str | None = None


@dataclass(frozen=True)
class Ledger:
    """One row of a posting ledger (a digest's channel and week, a follow's period, an alert's
    fingerprint): claimed before posting, then recorded as posted or failed. `bot.clock.once` is the
    one algorithm that uses it; each kind differs only in its key and in when a claim is granted."""

    store: "Store"
    table: Table
    key: tuple[tuple[str, object], ...]
    claim_with: object = None  # callable(now) -> Claim; None: a period ledger's claim

    def _where(self):
        return and_(*(self.table.c[k] == v for k, v in self.key))

    def claim(self, now: dt.datetime) -> Claim:
        if self.claim_with is not None:
            return self.claim_with(now)
        return self.store._claim(self.table, dict(self.key), now)

    def posted(self, channel: str | None, ts: str | None, now: dt.datetime) -> None:
        values = dict(status="posted", ts=ts, posted_at=naive_utc(now))
        if "channel" in self.table.c and "channel" not in dict(self.key):
            values["channel"] = channel
        if "fire_count" in self.table.c:
            values["fire_count"] = self.table.c.fire_count + 1
        with self.store.engine.begin() as conn:
            conn.execute(update(self.table).where(self._where()).values(**values))

    def failed(self) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(update(self.table).where(self._where()).values(status="failed"))


class Store:
    def __init__(self, engine: Engine, lease: dt.timedelta = STALE_CLAIM):
        self.engine = engine
        self.lease = lease  # how long a claim is honoured before a crash is presumed

    @classmethod
    def from_url(cls, url: str | None, lease: dt.timedelta = STALE_CLAIM) -> "Store":
        store = cls(make_engine(url), lease)
        store.create()
        return store

    def create(self, attempts: int = 5) -> None:
        """Create the tables that are missing. Two processes starting on an empty database race to
        create them; the loser's CREATE fails on the winner's table, so it looks again."""
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _insert(self, table: Table, **values) -> bool:
        """Insert a row; False when its unique key is taken (someone else holds the claim)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table).values(**values))
            return True
        except IntegrityError:
            return False

    # -- alert rules ------------------------------------------------------------------------------
    def rules(self, active_only: bool = True) -> list[StoredRule]:
        query = select(alert_rules).order_by(alert_rules.c.id)
        if active_only:
            query = query.where(alert_rules.c.active.is_(True))
        with self.engine.connect() as conn:
            return [self._rule(row) for row in conn.execute(query)]

    @staticmethod
    def _rule(row) -> StoredRule:
        filters = tuple((d, tuple(v)) for d, v in json.loads(row.filters or "[]"))
        return StoredRule(row.id, AlertKind(row.kind), filters, row.threshold, row.origin, row.muted_until,
                          row.created_by)

    def add_rule(self, kind: str, filters=(), threshold: float | None = None, created_by: str | None = None,
                 origin: str = "user") -> int:
        with self.engine.begin() as conn:
            result = conn.execute(insert(alert_rules).values(
                kind=str(AlertKind(kind)), filters=json.dumps([[d, list(v)] for d, v in filters]), threshold=threshold,
                origin=origin, created_by=created_by, created_at=utcnow(), active=True))
            return int(result.inserted_primary_key[0])

    def remove_rule(self, rule_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(alert_rules).where(and_(alert_rules.c.id == rule_id,
                                                               alert_rules.c.active.is_(True)))
                                .values(active=False)).rowcount == 1

    def mute_rule(self, rule_id: int, until: dt.datetime) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(alert_rules).where(and_(alert_rules.c.id == rule_id,
                                                               alert_rules.c.active.is_(True)))
                                .values(muted_until=naive_utc(until))).rowcount == 1

    def seed_rules(self, defaults: list[dict]) -> int:
        """Add the configured default rules once: never again after the first start, so a rule an
        admin removed stays removed."""
        with self.engine.begin() as conn:
            if conn.execute(select(alert_rules.c.id).where(alert_rules.c.origin == "config").limit(1)).first():
                return 0
        for rule in defaults:
            self.add_rule(rule["kind"], tuple((d, tuple(v)) for d, v in rule.get("filters", {}).items()),
                          rule.get("threshold"), created_by=None, origin="config")
        return len(defaults)

    # -- fired alerts -----------------------------------------------------------------------------
    def claim_alert(self, finding: Finding, now: dt.datetime, cooldown: dt.timedelta, margin: float) -> str | None:
        """'new' or 'again' when this caller should post the finding; 'recovering' when it takes over a
        claim a crashed run left past its lease (the post may have reached Slack: look first); None
        when it was already said (same fingerprint, not worse by `margin`, inside the cooldown,
        snoozed, or being posted)."""
        now = naive_utc(now)
        values = dict(rule_id=finding.rule_id, kind=str(finding.kind), label=finding.label[:200], period=finding.period[:80],
                      value=finding.value, status="claimed", claimed_at=now)
        if self._insert(fired_alerts, fingerprint=finding.fingerprint, fire_count=0, **values):
            return "new"
        t = fired_alerts.c
        left = and_(t.fingerprint == finding.fingerprint, t.status == "claimed", t.claimed_at < now - self.lease)
        with self.engine.begin() as conn:
            if conn.execute(update(fired_alerts).where(left).values(**values)).rowcount == 1:
                return "recovering"
        may_repeat = or_(t.posted_at < now - cooldown, t.status == "failed")
        direction = WORSE.get(finding.kind)
        if direction is not None and finding.value is not None:
            worse = (t.value - finding.value >= margin) if direction < 0 else (finding.value - t.value >= margin)
            may_repeat = or_(may_repeat, and_(t.value.is_not(None), worse, t.status == "posted"))
        condition = and_(t.fingerprint == finding.fingerprint, may_repeat,
                         or_(t.snoozed_until.is_(None), t.snoozed_until < now))
        with self.engine.begin() as conn:
            changed = conn.execute(update(fired_alerts).where(condition).values(**values)).rowcount
        return "again" if changed == 1 else None

    def alert_ledger(self, finding: Finding, cooldown: dt.timedelta, margin: float) -> Ledger:
        """The fired-alerts row of a finding: claimed when it is new, worse by `margin`, past the
        cooldown, or left by a crashed run (see `claim_alert`)."""
        def claim(now: dt.datetime) -> Claim:
            outcome = self.claim_alert(finding, now, cooldown, margin)
            return Claim(outcome is not None, "claimed" if outcome else "already", recovering=outcome == "recovering")
        return Ledger(self, fired_alerts, (("fingerprint", finding.fingerprint),), claim)

    def unsettled_alerts(self, now: dt.datetime, within: dt.timedelta = dt.timedelta(days=1)) -> set[str]:
        """Fingerprints the retry tick posts again: claims left past their lease by a crash, and posts
        that failed in the last day (an older failure waits for its rule to fire again)."""
        now, t = naive_utc(now), fired_alerts.c
        with self.engine.connect() as conn:
            return set(conn.execute(select(t.fingerprint).where(or_(
                and_(t.status == "claimed", t.claimed_at < now - self.lease),
                and_(t.status == "failed", t.claimed_at > now - within)))).scalars())

    def alert_posted(self, fingerprint: str, channel: str, ts: str | None, now: dt.datetime) -> None:
        Ledger(self, fired_alerts, (("fingerprint", fingerprint),)).posted(channel, ts, now)

    def alert_failed(self, fingerprint: str) -> None:
        Ledger(self, fired_alerts, (("fingerprint", fingerprint),)).failed()

    def acknowledge(self, fingerprint: str, user: str) -> dict | None:
        with self.engine.begin() as conn:
            conn.execute(update(fired_alerts).where(fired_alerts.c.fingerprint == fingerprint)
                         .values(acknowledged_by=user))
        return self.alert(fingerprint)

    def snooze(self, fingerprint: str, until: dt.datetime) -> dict | None:
        with self.engine.begin() as conn:
            conn.execute(update(fired_alerts).where(fired_alerts.c.fingerprint == fingerprint)
                         .values(snoozed_until=naive_utc(until)))
        return self.alert(fingerprint)

    def alert(self, fingerprint: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(fired_alerts).where(fired_alerts.c.fingerprint == fingerprint)).first()
        return dict(row._mapping) if row else None

    # -- the digest ledger ------------------------------------------------------------------------
    def digest_ledger(self, channel: str, period: str) -> Ledger:
        return Ledger(self, digest_ledger, (("channel", channel), ("period", period)))

    def claim_digest(self, channel: str, period: str, now: dt.datetime) -> Claim:
        return self.digest_ledger(channel, period).claim(now)

    def _claim(self, ledger: Table, key: dict, now: dt.datetime) -> Claim:
        """Claim one ledger row (a digest's channel and week, a follow's period) before posting:
        the unique key lets one run in; a failed post, or a claim a crashed run left past its lease,
        may be taken over, once."""
        now = naive_utc(now)
        if self._insert(ledger, **key, status="claimed", claimed_at=now):
            return Claim(True, "claimed")
        t = ledger.c
        where = and_(*(t[k] == v for k, v in key.items()))
        with self.engine.begin() as conn:
            changed = conn.execute(update(ledger).where(and_(where, or_(
                t.status == "failed", and_(t.status == "claimed", t.claimed_at < now - self.lease))))
                .values(status="claimed", claimed_at=now)).rowcount
            row = conn.execute(select(ledger).where(where)).first()
        if changed == 1:
            return Claim(True, "claimed", recovering=True)
        return Claim(False, row.status, ts=row.ts)

    def digests(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(digest_ledger).order_by(digest_ledger.c.id))]

    # -- followed questions -----------------------------------------------------------------------
    def add_follow(self, question: str, frequency: str, destination: str, user_id: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(insert(follows).values(question=question, frequency=frequency,
                                                         destination=destination, user_id=user_id,
                                                         created_at=utcnow(), active=True))
            return int(result.inserted_primary_key[0])

    def follows(self, user_id: str | None = None) -> list[StoredFollow]:
        """Active follows, oldest first; only `user_id`'s when given."""
        query = select(follows).where(follows.c.active.is_(True)).order_by(follows.c.id)
        if user_id is not None:
            query = query.where(follows.c.user_id == user_id)
        with self.engine.connect() as conn:
            return [StoredFollow(r.id, r.question, r.frequency, r.destination, r.user_id, r.muted_until)
                    for r in conn.execute(query)]

    def _own_follow(self, follow_id: int, user_id: str | None):
        cond = and_(follows.c.id == follow_id, follows.c.active.is_(True))
        return cond if user_id is None else and_(cond, follows.c.user_id == user_id)

    def remove_follow(self, follow_id: int, user_id: str | None = None) -> bool:
        """Stop a follow (only its owner's, when `user_id` is given)."""
        with self.engine.begin() as conn:
            return conn.execute(update(follows).where(self._own_follow(follow_id, user_id))
                                .values(active=False)).rowcount == 1

    def mute_follow(self, follow_id: int, until: dt.datetime, user_id: str | None = None) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(update(follows).where(self._own_follow(follow_id, user_id))
                                .values(muted_until=naive_utc(until))).rowcount == 1

    def follow_ledger(self, follow_id: int, period: str) -> Ledger:
        return Ledger(self, follow_ledger, (("follow_id", follow_id), ("period", period)))

    def claim_follow(self, follow_id: int, period: str, now: dt.datetime) -> Claim:
        return self.follow_ledger(follow_id, period).claim(now)

    def follow_posts(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(follow_ledger).order_by(follow_ledger.c.id))]

    # -- conversation threads ---------------------------------------------------------------------
    def remember_thread(self, channel: str, thread_ts: str, line: str, user_id: str | None,
                        now: dt.datetime) -> None:
        """The thread's last answered command (one row per thread; the latest answer wins)."""
        values = {"line": line, "user_id": user_id, "updated_at": naive_utc(now)}
        where = (thread_context.c.channel == channel) & (thread_context.c.thread_ts == thread_ts)
        with self.engine.begin() as conn:
            if conn.execute(update(thread_context).where(where).values(**values)).rowcount:
                return
        if not self._insert(thread_context, channel=channel, thread_ts=thread_ts, **values):
            with self.engine.begin() as conn:  # another process inserted it first: ours is newer
                conn.execute(update(thread_context).where(where).values(**values))

    def thread_line(self, channel: str, thread_ts: str, now: dt.datetime,
                    ttl: dt.timedelta = THREAD_TTL) -> str | None:
        """The thread's last command, unless it is older than `ttl` (then the thread starts afresh)."""
        where = (thread_context.c.channel == channel) & (thread_context.c.thread_ts == thread_ts)
        with self.engine.connect() as conn:
            row = conn.execute(select(thread_context).where(where)).first()
        if row is None or row.updated_at < naive_utc(now) - ttl:
            return None
        return row.line

    # -- how questions were read ------------------------------------------------------------------
    def record_feedback(self, question: str, line: str | None, verdict: str, user_id: str | None,
                        now: dt.datetime, chosen: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(feedback).values(at=naive_utc(now), user_id=user_id, question=question[:2000],
                                                 line=line, verdict=verdict, chosen=chosen))

    def misread(self, limit: int = 20) -> list[dict]:
        """The latest questions read wrongly, re-read by the asker, or not read at all; newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback).where(feedback.c.verdict != "right")
                                .order_by(feedback.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def feedback_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback.c.verdict, func.count()).group_by(feedback.c.verdict))
            return {verdict: int(n) for verdict, n in rows}

    # -- refresh runs -----------------------------------------------------------------------------
    def record_refresh(self, started: dt.datetime, finished: dt.datetime, ok: bool, rows_read: int = 0,
                       rows_set_aside: int = 0, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(refresh_runs).values(started_at=naive_utc(started), finished_at=naive_utc(finished),
                                                     ok=ok, rows_read=rows_read, rows_set_aside=rows_set_aside,
                                                     error=error))

    def last_refresh(self, ok: bool | None = None) -> dict | None:
        query = select(refresh_runs).order_by(refresh_runs.c.id.desc()).limit(1)
        if ok is not None:
            query = query.where(refresh_runs.c.ok.is_(ok))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None


def load_default_rules(path: str | None) -> list[dict]:
    with open(path or DEFAULT_RULES, "rb") as f:
        return tomllib.load(f).get("rules", [])


def open_store(settings) -> Store:
    """The state store at settings.database_url, with the default alert rules added on its first use."""
    store = Store.from_url(settings.database_url, dt.timedelta(seconds=settings.claim_lease_seconds))
    store.seed_rules(load_default_rules(settings.alerts_config))
    return store


class SourceCache:
    """The local copy of a synced CRM source (insights.sources.crm.LocalCopy: Salesforce, HubSpot), in the
    state store, one `name` per source: a refresh fetches only what changed, and the bot answers from here
    when the CRM is down."""

    BATCH = 500

    def __init__(self, engine: Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[source_records, source_sync])

    def state(self, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(source_sync).where(source_sync.c.source == name)).first()
        if row is None:
            return None
        return {"fields": json.loads(row.fields), "watermark": row.watermark, "rows": row.rows,
                "synced_at": row.synced_at}

    def reset(self, name: str, fields: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(source_records.delete().where(source_records.c.source == name))
            conn.execute(source_sync.delete().where(source_sync.c.source == name))
            conn.execute(insert(source_sync).values(source=name, fields=json.dumps(fields), watermark=None, rows=0,
                                                    synced_at=None))

    def apply(self, name: str, records: list[dict], deleted: list[str], watermark: str | None,
              key: str = "Id", stamp: str = "SystemModstamp") -> None:
        """Upsert a page of records (their id in `key`, last-modified in `stamp`) and drop deleted ones,
        in one transaction with the new watermark."""
        ids = [str(r[key]) for r in records] + [str(d) for d in deleted]
        with self.engine.begin() as conn:
            for k in range(0, len(ids), self.BATCH):
                chunk = ids[k:k + self.BATCH]
                conn.execute(source_records.delete().where(and_(source_records.c.source == name,
                                                                source_records.c.id.in_(chunk))))
            if records:
                conn.execute(insert(source_records), [
                    {"source": name, "id": str(r[key]), "modstamp": r.get(stamp),
                     "record": json.dumps(r, default=str)} for r in records])
            count = conn.execute(select(func.count()).select_from(source_records)
                                 .where(source_records.c.source == name)).scalar_one()
            conn.execute(update(source_sync).where(source_sync.c.source == name)
                         .values(watermark=watermark, rows=int(count), synced_at=utcnow()))

    def records(self, name: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_records.c.record).where(source_records.c.source == name)
                                .order_by(source_records.c.id))
            return [json.loads(r.record) for r in rows]


SalesforceCache = SourceCache  # its first name
