"""No surface shows rep names, or segments outside someone's scope, to a user or a channel that may not
see them: replies, the deals' CSV, charts, follows, the digest, the Home tab, /alerts list, Share,
alerts, mentions answered in a channel, /health and the assistant pane's greeting. One Policy decides;
every surface is driven here in-process (the listener functions called directly, the clock's posting
functions run once) against the Slack stand-in, with a SQLite state store.

U0MGR is a manager (REPS_USERS) and admin; U0REP an allowed user who may not see reps; U0VP sees APAC
only and U0EU Europe only (SEGMENT_ACCESS). C0MGRS is a managers' channel (MANAGER_CHANNELS); C0SALES
any other channel, with the VP among its members, so a post there shows APAC's deals only; C0MIXED has
both VPs, who share no deal, so a post there shows none.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from slack_harness import TOKEN, all_text
from slack_sdk import WebClient
from slack_standin import SlackStandIn

from bot.clock.alerting import AlertPolicy
from bot.clock.digest import DigestSchedule
from bot.clock.follows import FollowSchedule, post_follows
from bot.clock.scheduler import Runtime, digest_now, refresh_and_alert
from bot.config import BUNDLED_DEALS
from bot.core.access import Policy, SegmentMap
from bot.core.ask import ask
from bot.core.data import DealData
from bot.slack.answering import answer_in_thread
from bot.slack.home import home_view
from bot.slack.listeners.actions import share
from bot.slack.listeners.messages import greet
from bot.slack.segments import ChannelMembers
from bot.slack.services import Services
from bot.store import Store
from insights.kinds import AlertKind

REP_NAME = re.compile(r"\brep_\d+\b")
OTHER_REGIONS = re.compile(r"\b(Europe|North America|LATAM)\b")
TUESDAY = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)


def reps_in(payload) -> list[str]:
    """Every rep name anywhere in a message: its text, every block, every button's value."""
    if isinstance(payload, str):
        return REP_NAME.findall(payload)
    if isinstance(payload, dict):
        payload = list(payload.values())
    return [name for item in payload or () if isinstance(item, (str, dict, list)) for name in reps_in(item)]


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales", "C0MGRS": "managers", "C0MIXED": "mixed"},
                      users={"U0MGR": "mgr", "U0REP": "rep", "U0VP": "vp", "U0EU": "eu"},
                      members={"C0SALES": ["U0MGR", "U0REP", "U0VP", "U0BOT"], "C0MGRS": ["U0MGR", "U0BOT"],
                               "C0MIXED": ["U0MGR", "U0VP", "U0EU", "U0BOT"]}) as standin:
        standin.add_method("conversations.open", lambda p: {"ok": True, "channel": {"id": "D" + p["users"][1:]}})
        yield standin


@pytest.fixture(scope="module")
def data():
    loaded = DealData(str(BUNDLED_DEALS))
    assert loaded.refresh().ok
    return loaded


@pytest.fixture(scope="module")
def policy(slack):
    readers = ChannelMembers(WebClient(token=TOKEN, base_url=slack.api_url))  # over HTTP, from the stand-in
    return Policy(users=frozenset({"U0MGR", "U0REP", "U0VP", "U0EU"}), managers=frozenset({"U0MGR"}),
                  admins=frozenset({"U0MGR"}), manager_channels=frozenset({"C0MGRS"}),
                  segments=SegmentMap.from_dict({"admins": ["U0MGR"], "users": {"U0VP": {"region": ["APAC"]},
                                                                                 "U0EU": {"region": ["Europe"]}}}),
                  readers=readers)


@pytest.fixture
def store(tmp_path):
    return Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}")


@pytest.fixture
def services(data, policy, store):
    return Services(data=data, policy=policy, store=store, progress_after=30)


@pytest.fixture
def client(slack):
    slack.clear()
    return WebClient(token=TOKEN, base_url=slack.api_url)


def test_replies_name_reps_only_to_whoever_may_read_them(data, policy):
    private = ask(data, policy.asker("U0MGR", "C0SALES"), "/winrate by rep")
    assert private.kind == "answer" and len(set(reps_in(private.text))) >= 10  # the manager, alone
    for asker in (policy.asker("U0MGR", "C0SALES", posted=True), policy.asker("U0REP", "D0REP", posted=True)):
        for text in ("/winrate by rep", "who are the top reps?", "/why", "/pipeline", "/deals lost APAC",
                     "/drivers", "/digest"):
            reply = ask(data, asker, text)
            assert reps_in(reply.text) == [], (asker.user, text)
    refused = ask(data, policy.asker("U0MGR", "C0SALES", posted=True), "/reps")
    assert refused.kind == "refused" and "managers' channels" in refused.text  # said why, and where to ask
    assert ask(data, policy.asker("U0REP"), "/reps").kind == "refused"


def test_the_deals_csv_and_the_chart_come_from_the_view_that_answered(data, policy):
    manager = ask(data, policy.asker("U0MGR"), "/deals APAC").table().decode()
    assert manager.splitlines()[0].split(",")[1] == "sales_rep_id" and reps_in(manager)
    hidden = ask(data, policy.asker("U0REP"), "/deals APAC").table().decode()
    assert "sales_rep_id" not in hidden.splitlines()[0] and reps_in(hidden) == []
    vp = ask(data, policy.asker("U0VP"), "/deals lost").table().decode()
    header = vp.splitlines()[0].split(",")
    regions = {row.split(",")[header.index("region")] for row in vp.splitlines()[1:]}
    assert regions == {"APAC"}
    for user, line in (("U0VP", "/why"), ("U0VP", "/drivers"), ("U0REP", "/why"), ("U0REP", "/drivers")):
        chart = ask(data, policy.asker(user), line).chart()
        assert chart is not None, line
        assert reps_in(chart.alt_text + chart.title) == []
        assert user != "U0VP" or OTHER_REGIONS.findall(chart.alt_text) == []


def test_health_counts_only_the_rows_a_regional_user_may_see(data, policy):
    vp = ask(data, policy.asker("U0VP"), "/health")
    everyone = ask(data, policy.asker("U0MGR"), "/health")
    assert everyone.result.rows_read == 7000
    assert vp.result.rows_read == vp.result.closed_deals + vp.result.open_deals < 2500
    assert vp.result.rows_set_aside == 0 and "7,000" not in vp.text


def test_follows_are_posted_with_reps_only_by_dm_or_into_a_managers_channel(data, policy, store, client, slack):
    refused = ask(data, policy.asker("U0MGR", "C0SALES"), "/follow /reps daily here", store=store)
    assert refused.kind == "refused" and store.follows() == []
    assert ask(data, policy.asker("U0MGR", "C0SALES"), "/follow /reps daily dm", store=store).kind == "answer"
    assert ask(data, policy.asker("U0MGR", "C0MGRS"), "/follow /winrate by rep daily here", store=store).ok
    # a follow made before the channel lost its managers' mark, or stored by hand: refused when posted
    store.add_follow("/reps", "daily", "C0SALES", "U0MGR")
    store.add_follow("/winrate by region", "daily", "C0SALES", "U0VP")
    outcomes = [o.status for o in post_follows(client, store, data, FollowSchedule("tue", "09:00"), TUESDAY, policy)]
    assert outcomes == ["posted", "posted", "denied", "posted"]
    assert len(set(reps_in(slack.messages["D0MGR"]))) >= 10 and len(set(reps_in(slack.messages["C0MGRS"]))) >= 10
    sales = slack.messages["C0SALES"]
    assert len(sales) == 1 and reps_in(sales) == [] and OTHER_REGIONS.findall(all_text(sales[0])) == []


def test_the_digest_names_deal_owners_only_in_a_managers_channel(data, policy, store, client, slack):
    for channel in ("C0SALES", "C0MGRS"):
        rt = Runtime(data, store, client, DigestSchedule(channel, "tue", "09:00"), AlertPolicy(None), access=policy)
        assert digest_now(rt, TUESDAY).status == "posted"
    assert reps_in(slack.messages["C0SALES"]) == []
    assert reps_in(slack.messages["C0MGRS"])  # the at-risk deals' owners


def test_alerts_about_reps_reach_only_a_managers_channel(data, policy, store, client, slack):
    store.add_rule(AlertKind.WINRATE_BELOW, (("sales_rep_id", ("rep_12",)),), 0.9, created_by="U0MGR")
    store.add_rule(AlertKind.BIG_DEAL_AT_RISK, (), None, created_by="U0MGR")
    for channel in ("C0SALES", "C0MGRS"):
        rt = Runtime(data, store, client, DigestSchedule(None), AlertPolicy(channel), access=policy)
        refresh_and_alert(rt, TUESDAY)
    assert slack.messages["C0SALES"] and reps_in(slack.messages["C0SALES"]) == []
    assert "rep_12" in reps_in(slack.messages["C0MGRS"])


def test_home_and_alerts_list_show_no_rule_about_what_the_reader_may_not_see(services, store):
    store.add_rule(AlertKind.WINRATE_BELOW, (("sales_rep_id", ("rep_12",)),), 0.3, created_by="U0MGR")
    store.add_rule(AlertKind.DROP, (("region", ("Europe",)),), None, created_by="U0MGR")
    store.add_rule(AlertKind.DROP, (("region", ("APAC",)),), None, created_by="U0MGR")
    manager = json.dumps(home_view(services, "U0MGR"))
    assert "rep_12" in manager and "Europe" in manager
    rep = json.dumps(home_view(services, "U0REP"))
    assert "rep_12" not in rep and "Europe" in rep
    vp = json.dumps(home_view(services, "U0VP"))
    assert "rep_12" not in vp and "Europe" not in vp and "APAC" in vp
    listed = ask(services.data, services.policy.asker("U0VP"), "/alerts list", store=store).text
    assert "rep_12" not in listed and "Europe" not in listed and "APAC" in listed
    assert "rep_12" in ask(services.data, services.policy.asker("U0MGR"), "/alerts list", store=store).text


def test_share_in_channel_posts_reps_only_into_a_managers_channel(services, client, slack):
    def press(user, channel, line, name):
        body = {"user": {"id": user}, "channel": {"id": channel}, "response_url": slack.response_url(name),
                "actions": [{"action_id": "share_reply", "value": line}]}
        share(body, client, lambda: True, services)
        return slack.wait_for(lambda s: s.responses.get(name) and s.responses[name][-1])

    refused = press("U0MGR", "C0SALES", "/winrate by rep", "share-sales")
    assert refused["response_type"] == "ephemeral" and reps_in(refused) == []
    shared = press("U0MGR", "C0MGRS", "/winrate by rep", "share-managers")
    assert shared["response_type"] == "in_channel" and len(set(reps_in(shared))) >= 10
    vp = press("U0VP", "C0SALES", "/winrate by region", "share-vp")
    assert vp["response_type"] == "in_channel" and OTHER_REGIONS.findall(all_text(vp)) == []


def test_a_managers_mention_in_a_shared_channel_is_answered_without_reps(services, client, slack):
    posted = answer_in_thread(services, client, "<@U0BOT> who are the top reps?", "U0MGR", "C0SALES",
                              f"{time.time():.6f}")
    assert posted is not None and reps_in(posted) == [] and "managers' channels" in all_text(posted["message"])
    answered = answer_in_thread(services, client, "why did the win rate drop?", "U0MGR", "C0SALES",
                                f"{time.time():.6f}")
    buttons = [e for b in answered["message"]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert reps_in(answered) == [] and not any("show the reps" in e["value"] for e in buttons)
    privately = answer_in_thread(services, client, "who are the top reps?", "U0MGR", "D0MGR", f"{time.time():.6f}")
    assert len(set(reps_in(privately))) >= 10


def test_the_assistant_pane_greets_an_outsider_with_no_numbers(services):
    said = []
    greet({"assistant_thread": {"user_id": "U0STRANGER"}}, said.append, lambda prompts: None, services=services)
    assert len(said) == 1 and "6,338" not in said[0] and "ALLOWED_USERS" in said[0]
    greet({"assistant_thread": {"user_id": "U0VP"}}, said.append, lambda prompts: None, services=services)
    assert "1,626" in said[1]  # the VP's APAC deals, not all 6,338


def test_a_post_shows_only_the_deals_every_member_of_its_channel_may_see(services, data, policy, store, client,
                                                                          slack):
    posted = answer_in_thread(services, client, "<@U0BOT> /winrate by region", "U0MGR", "C0SALES",
                              f"{time.time():.6f}")
    text = all_text(posted["message"])
    assert "APAC" in text and OTHER_REGIONS.findall(text) == []  # the VP reads C0SALES too
    assert "Shown for everyone in this channel: APAC only" in text
    alone = ask(data, policy.asker("U0MGR", "C0SALES"), "/winrate by region")  # the slash reply only they read
    assert "Europe" in alone.text and "Shown for everyone" not in alone.text
    mixed = answer_in_thread(services, client, "how is APAC doing lately?", "U0VP", "C0MIXED", f"{time.time():.6f}")
    words = all_text(mixed["message"])
    assert "not everyone in this channel may see" in words and "%" not in words and "APAC" not in words
    follow = ask(data, policy.asker("U0VP", "C0MIXED"), "/follow /winrate weekly here", store=store)
    assert follow.kind == "refused" and store.follows() == []  # said at once, not found out each week
    for channel in ("C0SALES", "C0MIXED"):
        rt = Runtime(data, store, client, DigestSchedule(channel, "tue", "09:00"), AlertPolicy(None), access=policy)
        assert digest_now(rt, TUESDAY).status == "posted"
        assert digest_now(rt, TUESDAY).status == "already"  # the notice too is posted once a week
    digest = all_text(slack.messages["C0SALES"][-1])
    assert "APAC" in digest and OTHER_REGIONS.findall(digest) == [] and "Shown for everyone in this channel" in digest
    withheld = all_text(slack.messages["C0MIXED"][-1])
    assert "not posted here" in withheld and "[channels]" in withheld and "%" not in withheld
    store.add_rule(AlertKind.WINRATE_BELOW, (("region", ("Europe",)),), 0.9, created_by="U0MGR")  # always below
    store.add_rule(AlertKind.WINRATE_BELOW, (("region", ("APAC",)),), 0.9, created_by="U0MGR")
    for channel in ("C0SALES", "C0MGRS"):
        rt = Runtime(data, store, client, DigestSchedule(None), AlertPolicy(channel), access=policy)
        refresh_and_alert(rt, TUESDAY)
    assert "Europe" in " ".join(all_text(m) for m in slack.messages["C0MGRS"])  # the manager alone reads it
    alerts = " ".join(all_text(m) for m in slack.messages["C0SALES"][-2:])
    assert "APAC" in alerts and OTHER_REGIONS.findall(alerts) == []
    assert "Shown for everyone in this channel: APAC only" in all_text(slack.messages["C0SALES"][-1])


def test_a_channels_members_are_read_page_by_page_without_the_bot_and_kept_when_slack_fails():
    crowd = [f"U{n:05d}" for n in range(2500)] + ["U0BOT"]
    with SlackStandIn(bot_token=TOKEN, channels={"C0ALL": "all-hands"}, members={"C0ALL": crowd}) as standin:
        readers = ChannelMembers(WebClient(token=TOKEN, base_url=standin.api_url), ttl=0)
        assert readers("C0ALL") == frozenset(crowd) - {"U0BOT"}  # three pages of 1,000; the bot is no reader
        assert sum(c.method == "conversations.members" for c in standin.calls) == 3
        standin.fail_next("conversations.members", status=200, error="missing_scope")
        assert len(readers("C0ALL")) == 2500  # the last known list
        assert readers("C0NOWHERE") is None  # never known: the Policy shows no deals there
        assert ChannelMembers(WebClient(token=TOKEN, base_url=standin.api_url), limit=1500)("C0ALL") is None
