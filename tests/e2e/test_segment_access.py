"""Row-level access end to end: with SEGMENT_ACCESS, a regional VP (by user, or through a Slack user
group) sees only their segments in every command, the Home tab, shared answers, charts and follows;
admins and the CRO see everything. Through the running app with signed requests, against the stand-in."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from conftest import snapshot_of  # noqa: F401  (the shared fixtures)
from slack_harness import ROOT, TOKEN, RunningApp, all_text, reply
from slack_sdk import WebClient
from slack_standin import SlackStandIn, block_errors

from bot.clock.follows import FollowSchedule, post_follows
from bot.config import Settings
from bot.core.access import Policy, SegmentAccessError, SegmentMap
from bot.core.data import DealData
from bot.core.scope import Scope
from bot.slack.segments import GroupMembers
from bot.store import Store

ACCESS = """
admins = ["U0CRO"]
others = "none"

[users.U0VPAPAC]
region = ["APAC"]

[groups.S0EMEA]
region = ["Europe"]
"""


@pytest.fixture(scope="module")
def access_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("access") / "access.toml"
    path.write_text(ACCESS)
    return path


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales", "C0APAC": "apac"},
                      members={"C0APAC": ["U0CRO", "U0VPAPAC", "U0BOT"]},  # C0SALES: everyone
                      users={"U0CRO": "cro", "U0VPAPAC": "vp-apac", "U0EMEA1": "emea", "U0OTHER": "other",
                             "U0ADMIN": "admin"}) as standin:
        standin.add_method("usergroups.users.list", lambda p: {"ok": True, "users": ["U0EMEA1"]}
                           if p.get("usergroup") == "S0EMEA" else {"ok": False, "error": "no_such_subteam"})
        standin.add_method("conversations.open", lambda p: {"ok": True, "channel": {"id": "D" + p["users"][1:]}})
        yield standin


@pytest.fixture(scope="module")
def app(slack, database, access_file):
    running = RunningApp(slack, DATABASE_URL=database, SEGMENT_ACCESS=str(access_file), ADMIN_USERS="U0ADMIN")
    yield running
    running.stop()


def ask(app, slack, command, text, user, name, channel="C0SALES"):
    app.command(slack, command, text, user=user, channel=channel, name=name)
    message = reply(slack, name)
    assert block_errors(message["blocks"]) == []
    return all_text(message)


def test_a_regional_vp_sees_only_their_region(app, slack):
    text = ask(app, slack, "/winrate", "all", "U0VPAPAC", "vp-winrate")
    assert "37.9% (616 won of 1,626" in text  # APAC's numbers are the whole of what they see
    assert "Your access: APAC only." in text
    by_region = ask(app, slack, "/winrate", "by region", "U0VPAPAC", "vp-by-region")
    assert "APAC" in by_region and "Europe" not in by_region and "North America" not in by_region
    europe = ask(app, slack, "/winrate", "Europe", "U0VPAPAC", "vp-europe")
    assert "Europe is outside what you may see here (APAC)" in europe and "%" not in europe
    both = ask(app, slack, "/deals", "north america lost", "U0VPAPAC", "vp-deals-na")
    assert "North America is outside what you may see here" in both
    health = ask(app, slack, "/health", "", "U0VPAPAC", "vp-health")
    assert "1,626" in health and "6,338" not in health
    reps = ask(app, slack, "/reps", "by region", "U0VPAPAC", "vp-reps")
    assert "Europe" not in reps and "India" not in reps


def test_a_user_group_member_sees_the_groups_segments(app, slack):
    text = ask(app, slack, "/winrate", "all", "U0EMEA1", "emea-winrate")
    assert "(802 won of 1,879" in text or "of 1,879;" in text
    assert "Your access: Europe only." in text and "APAC" not in text.split("Your access")[0]


def test_the_cro_and_admins_see_everything(app, slack):
    for user in ("U0CRO", "U0ADMIN"):
        text = ask(app, slack, "/winrate", "by region all", user, f"all-{user}")
        assert all(r in text for r in ("APAC", "Europe", "India", "North America"))
        assert "Your access" not in text and "n=6,338" in text


def test_others_see_nothing_when_the_mapping_says_none(app, slack):
    text = ask(app, slack, "/winrate", "", "U0OTHER", "other-winrate")
    assert "does not include any segments" in text and "%" not in text
    assert app.event({"type": "app_home_opened", "user": "U0OTHER", "channel": "D0OTHER", "tab": "home"}) == 200
    home = all_text(slack.wait_for(lambda s: s.home_views.get("U0OTHER")))
    assert "closed and" not in home and "Win rate 2024Q2" not in home


def test_the_home_tab_is_cut_to_the_viewer(app, slack):
    assert app.event({"type": "app_home_opened", "user": "U0VPAPAC", "channel": "D0VPAPAC", "tab": "home"}) == 200
    home = all_text(slack.wait_for(lambda s: s.home_views.get("U0VPAPAC")))
    assert "1,626 closed" in home and "6,338" not in home and "Your access: APAC only." in home
    assert "/work" not in home and "`deals.csv`" in home  # no server path, just the file's name


def test_charts_in_a_dm_and_shared_answers_are_cut_too(app, slack):
    before = {f["id"] for f in slack.files.values()}
    app.command(slack, "/trend", "", user="U0VPAPAC", channel="D0VPAPAC", name="vp-dm-trend")
    assert "Your access: APAC only." in all_text(reply(slack, "vp-dm-trend"))
    chart = slack.wait_for(lambda s: [f for f in s.files.values() if f["id"] not in before and f.get("completed")],
                           timeout=30)[0]
    assert chart["channel_id"] == "D0VPAPAC"
    assert "20.9% (n=315)" in chart["alt_txt"]  # APAC's 2024Q2, not the whole team's 35.8%
    status, _ = app.interact(slack, {
        "type": "block_actions", "user": {"id": "U0VPAPAC"}, "team": {"id": "T0TEST"},
        "channel": {"id": "C0SALES"}, "container": {"type": "message", "channel_id": "C0SALES"},
        "response_url": slack.response_url("vp-shared"), "trigger_id": "t", "api_app_id": "A0APP",
        "actions": [{"action_id": "share_reply", "block_id": "b", "type": "button", "value": "/winrate by region",
                     "action_ts": str(time.time())}]})
    assert status == 200
    refused = all_text(reply(slack, "vp-shared"))  # C0SALES has people who see no APAC deal
    assert "not everyone in this channel may see" in refused and "%" not in refused
    status, _ = app.interact(slack, {
        "type": "block_actions", "user": {"id": "U0VPAPAC"}, "team": {"id": "T0TEST"},
        "channel": {"id": "C0APAC"}, "container": {"type": "message", "channel_id": "C0APAC"},
        "response_url": slack.response_url("vp-shared-apac"), "trigger_id": "t", "api_app_id": "A0APP",
        "actions": [{"action_id": "share_reply", "block_id": "b", "type": "button", "value": "/winrate by region",
                     "action_ts": str(time.time())}]})
    assert status == 200
    shared = all_text(reply(slack, "vp-shared-apac"))
    assert "APAC" in shared and "Europe" not in shared and "Shown for everyone in this channel: APAC only" in shared


def test_the_cros_mention_in_a_regional_channel_shows_that_region_only(app, slack):
    assert app.event({"type": "app_mention", "user": "U0CRO", "channel": "C0APAC", "ts": "1700000000.000100",
                      "text": "<@U0BOT> win rate by region"}) == 200
    answer = slack.wait_for(lambda s: [m for m in s.messages.get("C0APAC", []) if "win rate" in all_text(m).lower()],
                            timeout=30)[-1]
    text = all_text(answer)
    assert "APAC" in text and "Europe" not in text and "North America" not in text and "n=315" in text


def test_a_vps_follow_is_posted_as_they_may_see_it(app, slack, database, access_file):
    text = ask(app, slack, "/follow", "winrate by region weekly dm", "U0VPAPAC", "vp-follow")
    assert "Following" in text and "in a direct message" in text
    settings = Settings.from_env({"SEGMENT_ACCESS": str(access_file), "DATABASE_URL": database})
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    data = DealData(str(ROOT / "data" / "deals.csv"))
    assert data.refresh().ok
    store = Store.from_url(database)
    outcomes = post_follows(client, store, data, FollowSchedule("tue", "09:00"),
                            dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc),
                            Policy.from_settings(settings, GroupMembers(client)))
    assert [o.status for o in outcomes] == ["posted"]
    posted = all_text(slack.messages["D0VPAPAC"][-1])
    assert "APAC" in posted and "Europe" not in posted and "access: APAC" in posted


def test_scopes_restrict_every_row_and_the_file_is_checked(demo):
    scope = SegmentMap.from_dict({"users": {"U1": {"region": "APAC", "product": ["Enterprise"]}},
                                     "groups": {}}).scope_for("U1")
    cut = scope.restrict(demo)
    assert set(cut.deals.region) == {"APAC"} and set(cut.deals.product_type) == {"Enterprise"}
    assert set(cut.open_deals.region) <= {"APAC"} and len(cut.open_deals) > 0
    assert cut.values("region") == ("APAC",) and cut.report.closed_deals == len(cut.deals)
    either = Scope.of([{"region": ["APAC"]}, {"industry": ["FinTech"]}]).restrict(demo)
    expected = ((demo.deals.region == "APAC") | (demo.deals.industry == "FinTech")).sum()
    assert len(either.deals) == expected and "Europe" in either.values("region")
    assert Scope.everything().restrict(demo) is demo and len(Scope.nothing().restrict(demo).deals) == 0
    with pytest.raises(SegmentAccessError, match="not a dimension"):
        SegmentMap.from_dict({"users": {"U1": {"planet": ["Mars"]}}})
    with pytest.raises(SegmentAccessError, match="others"):
        SegmentMap.from_dict({"others": "some"})


def test_a_bad_access_file_stops_the_start(tmp_path):
    import subprocess
    import sys

    from slack_harness import clean_env

    bad = tmp_path / "access.toml"
    bad.write_text('[users.U1]\nplanet = ["Mars"]\n')
    done = subprocess.run([sys.executable, "-m", "bot", "http"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET="s", SEGMENT_ACCESS=str(bad)))
    assert done.returncode == 2 and "SEGMENT_ACCESS" in done.stderr and "not a dimension" in done.stderr


def test_the_export_is_cut_to_a_user_too(access_file):
    import json
    import subprocess
    import sys

    from slack_harness import clean_env

    def ask(*args):
        return subprocess.run([sys.executable, "-m", "bot", "ask", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, env=clean_env(SEGMENT_ACCESS=str(access_file)))

    vp = ask("/winrate by region all", "--format", "json", "--as-user", "U0VPAPAC")
    assert vp.returncode == 0, vp.stderr
    payload = json.loads(vp.stdout)
    assert payload["overall"]["n"] == 1626 and [g["label"] for g in payload["groups"]] == ["APAC"]
    cro = json.loads(ask("/winrate by region all", "--format", "json", "--as-user", "U0CRO").stdout)
    assert cro["overall"]["n"] == 6338 and len(cro["groups"]) == 4
    nobody = ask("/winrate", "--as-user", "U0OTHER")
    assert nobody.returncode == 2 and "does not include any segments" in nobody.stdout


def test_an_unknown_group_membership_shows_nothing_rather_than_everything():
    class Down:
        def usergroups_users_list(self, usergroup):
            raise ConnectionError("Slack is away")

    class Up:
        def usergroups_users_list(self, usergroup):
            return {"users": ["U0EMEA1"]}

    access = SegmentMap.from_dict({"others": "all", "groups": {"S0EMEA": {"region": ["Europe"]}}})
    slack = Down()
    members = GroupMembers(slack, ttl=0)  # asked every time: what Slack says now, or the last known list
    assert access.scope_for("U0EMEA1", members).empty  # might be limited by the group: fail closed
    members.client = Up()
    assert access.scope_for("U0EMEA1", members) == Scope.of([{"region": ["Europe"]}])
    assert access.scope_for("U0ANYONE", members).unrestricted  # known not to be in it: `others`
    members.client = slack
    assert access.scope_for("U0EMEA1", members) == Scope.of([{"region": ["Europe"]}])  # the last known list


def test_ask_as_a_user_outside_reps_users_writes_a_deals_csv_without_owners(tmp_path):
    """The reply and the CSV come from the same view: REPS_USERS=U0MGR ... --as-user U0OTHER names no rep."""
    import re
    import subprocess
    import sys

    from slack_harness import clean_env

    def deals_csv(user: str) -> tuple[str, str]:
        folder = tmp_path / user
        done = subprocess.run([sys.executable, "-m", "bot", "ask", "/deals APAC", "--as-user", user,
                               "--chart-dir", str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env=clean_env(REPS_USERS="U0MGR"))
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout, next(folder.glob("deals-*.csv")).read_text(encoding="utf-8")

    text, csv = deals_csv("U0OTHER")
    assert re.findall(r"rep_\d+", text) == [] and re.findall(r"rep_\d+", csv) == []
    assert "sales_rep_id" not in csv.splitlines()[0]
    _, manager = deals_csv("U0MGR")
    assert "sales_rep_id" in manager.splitlines()[0] and re.findall(r"rep_\d+", manager)
