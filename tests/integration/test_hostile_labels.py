"""Hostile CRM labels on every surface that posts data to Slack: the weekly digest, the alerts, the Home
tab, a question asked back and the /feedback list that keeps it, the "Read as" line of an answer in a
thread, a deal id in an answer, and charts with their files.

The data is a messy CRM export (insights/synthetic.py crm_spec: amounts as text, labels written several
ways, zeroed lost amounts, stale deals) whose region, industry, product, lead source and rep values are
then overwritten with what a customer's CRM may hold: `<!channel>`, `<!here>`, `<@U…>`, a `<url|text>`
link, `*bold*`, `_a_`, `~y~`, backticks, `&lt;` and matplotlib mathtext (`$x^2$`, and `$\\frac{$`, which
crashes mathtext if it is ever parsed). Each surface is driven in-process (the clock's posting functions,
the Home tab's event listener, the thread answerer) against the Slack stand-in, and the exact text
posted is checked: nothing pings or links, no styling character of a label acts, and the label reads
as loaded once the zero-width spaces are taken out."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from slack_harness import TOKEN, all_text
from slack_sdk import WebClient
from slack_standin import SlackStandIn, block_errors

from bot.clock.alerting import AlertPolicy
from bot.clock.digest import DigestSchedule
from bot.clock.follows import FollowSchedule, post_follows
from bot.clock.scheduler import Runtime, digest_now, refresh_and_alert
from bot.core.access import Policy
from bot.core.ask import ask
from bot.core.data import DealData
from bot.slack.answering import answer_in_thread
from bot.slack.blocks import ZWSP, reply_message
from bot.slack.listeners.events import publish_home
from bot.slack.services import Services
from bot.store import Store
from insights.kinds import AlertKind
from insights.synthetic import PlantedDrop, crm_spec, generate_deals, logit, write_csv

# raw CRM value -> what loading makes of it (insights/labels.py: ` < > * ~ become look-alikes)
HOSTILE = {
    ("region", "APAC"): ("<!channel> _a_", "\u2039!channel\u203a _a_"),
    ("region", "Europe"): ("$x^2$", "$x^2$"),
    ("region", "India"): ("<@U123> *bold*", "\u2039@U123\u203a \u2217bold\u2217"),
    ("industry", "SaaS"): ("<https://evil|click>", "\u2039https://evil|click\u203a"),
    ("industry", "FinTech"): ("~y~ `code`", "\u223cy\u223c \u02cbcode\u02cb"),
    ("industry", "EdTech"): ("&lt;b&gt; _ed_", "&lt;b&gt; _ed_"),
    ("industry", "HealthTech"): ("$\\frac{$ health", "$\\frac{$ health"),
    ("product_type", "Pro"): ("_pro_", "_pro_"),
    ("product_type", "Enterprise"): ("<!here>", "\u2039!here\u203a"),
    ("lead_source", "Outbound"): ("_out_ <!everyone>", "_out_ \u2039!everyone\u203a"),
    ("lead_source", "Referral"): ("<@U0CEO> ~warm~", "\u2039@U0CEO\u203a \u223cwarm\u223c"),
}
A = HOSTILE["region", "APAC"][1]
OUT = HOSTILE["lead_source", "Outbound"][1]
REFERRAL = HOSTILE["lead_source", "Referral"][1]
# as Slack text: an underscore that could open or close italics fenced by zero-width spaces
Z = ZWSP
A_SLACK = f"\u2039!channel\u203a {Z}_{Z}a{Z}_{Z}"
OUT_SLACK = f"{Z}_{Z}out{Z}_{Z} \u2039!everyone\u203a"
PRO_SLACK = f"{Z}_{Z}pro{Z}_{Z}"
REP = "_rep_ <!subteam^S1>"
DEAL = "_acme_ <!channel> *renewal*"  # the largest stalled open deal's id (deal ids are not cleaned at load)
DEAL_SHOWN = "_acme_ \u2039!channel\u203a \u2217renewal\u2217"  # as a template prints it (`|value`)
DEAL_SLACK = f"{Z}_{Z}acme{Z}_{Z} \u2039!channel\u203a \u2217renewal\u2217"
NOW = dt.datetime(2025, 7, 1, 9, 15, tzinfo=dt.timezone.utc)  # a Tuesday, after the data's last quarter


def hostile_export(path) -> None:
    spec = crm_spec(n_deals=12_000, seed=5, messy_label_share=0.05, amount_as_text=True,
                    effects={"lead_source": {"Referral": 0.6, "Partner": 0.15, "Outbound": -0.6}},
                    drops=(PlantedDrop({"region": "APAC"}, dt.date(2025, 4, 1), dt.date(2025, 6, 30),
                                       logit(0.2) - logit(0.45)),))
    frame = generate_deals(spec)
    for (column, clean), (raw, _) in HOSTILE.items():
        frame.loc[frame[column] == clean, column] = raw
    frame.loc[frame["sales_rep_id"] == "rep_3", "sales_rep_id"] = REP
    frame.loc[frame["deal_id"] == "D0006292", "deal_id"] = DEAL
    write_csv(frame, path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "hostile.csv"
    hostile_export(path)
    loaded = DealData(str(path))
    assert loaded.refresh().ok
    for (column, _), (_, label) in HOSTILE.items():  # every hostile label loaded, as its look-alike form
        assert label in loaded.current.snapshot.values(column), (column, label)
    return loaded


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0DIGEST": "sales", "C0ALERTS": "alerts", "D0CRO": "dm"},
                      users={"U0CRO": "cro"}) as standin:
        yield standin


@pytest.fixture
def client(slack):
    slack.clear()
    return WebClient(token=TOKEN, base_url=slack.api_url)


@pytest.fixture
def store(tmp_path):
    return Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}")


@pytest.fixture
def services(data, store):
    return Services(data=data, policy=Policy(users=frozenset({"U0CRO"})), store=store, progress_after=30)


def mrkdwn(node) -> list[str]:
    """Every mrkdwn text in a message or view (plain_text, as on buttons, is never parsed by Slack)."""
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn(item)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "mrkdwn":
        return [node["text"]]
    return [t for key, value in node.items() if key != "text" or isinstance(value, dict) for t in mrkdwn(value)]


def inert(payload: dict) -> str:
    """Everything a message or view shows and carries, checked for what would ping, link or restyle; returned
    as its mrkdwn text (and notification) with the zero-width spaces taken out: what a reader sees."""
    raw = json.dumps(payload, ensure_ascii=False)
    for live in ("<!", "<@", "<http", "<#C", "<mailto"):
        assert live not in raw, live
    text = "\n".join([payload.get("text", "")] + mrkdwn(payload.get("blocks", [])))
    outside_code = "".join(text.split("`")[0::2])  # code spans are shown as written by Slack itself
    for styled in ("_a_", "_pro_", "_out_", "_ed_", "_rep_", "_acme_", "*bold*", "*renewal*", "~y~", "~warm~"):
        assert styled not in outside_code, styled
    return text.replace(ZWSP, "")


def test_the_digest_shows_hostile_labels_as_text(data, store, client, slack):
    rt = Runtime(data, store, client, DigestSchedule("C0DIGEST", "tue", "09:00"), AlertPolicy(None))
    assert digest_now(rt, NOW).status == "posted"
    [message] = slack.messages["C0DIGEST"]
    assert block_errors(message["blocks"]) == []
    text = all_text(message)
    assert (f"*Top risks (2025Q2)*: {A_SLACK} 29.9% (n=224, impact 34, $2.7M at risk, significant); "
            f"{OUT_SLACK} 33.7% (n=291, impact 33, $3.0M at risk, significant);") in text
    assert f"*Drivers (2025Q2)*: {A_SLACK} deals −21.5 pp against North America; {OUT_SLACK} deals −17.4 pp" in text
    assert f"1. {A_SLACK} deals win 21.5 pp less often than North America deals (95% CI 13.2 to 29.8" in text
    assert f"At risk: {DEAL_SLACK} (rep_12, $210k, 1.1% to be won this quarter, open 220 days, stalled);" in text
    assert message["text"] == "Weekly Sales Health · 2025Q2 · data as of 2025-06-30"
    seen = inert(message)
    # to a reader, the label as loaded and the deal id as a template prints it
    assert f"{A} 29.9% (n=224" in seen and f"{OUT} 33.7%" in seen and f"At risk: {DEAL_SHOWN} (rep_12" in seen
    # the template's own styling is untouched: its footer is still one italic line
    footer = text.splitlines()[-1]
    assert footer.startswith("_Closed deals by closed date") and footer.endswith("correction_") and ZWSP not in footer
    chart = next(iter(slack.files.values()))
    assert chart["bytes"].startswith(b"\x89PNG")


def test_alerts_show_hostile_labels_as_text(data, store, client, slack):
    store.add_rule(AlertKind.WINRATE_BELOW, (("region", (A,)),), 0.9, created_by="U0CRO")
    store.add_rule(AlertKind.DROP, (), None, created_by="U0CRO")
    store.add_rule(AlertKind.LEAD_SOURCE_GAP, (), 5, created_by="U0CRO")
    store.add_rule(AlertKind.BIG_DEAL_AT_RISK, (), 200_000, created_by="U0CRO")
    rt = Runtime(data, store, client, DigestSchedule(None), AlertPolicy("C0ALERTS"))
    posted = refresh_and_alert(rt, NOW)
    assert [p.status for p in posted] == ["posted"] * len(posted) and len(posted) >= 4
    alerts = slack.messages["C0ALERTS"]
    assert all(block_errors(m["blocks"]) == [] for m in alerts)
    first_lines = [all_text(m).splitlines()[0] for m in alerts]
    assert first_lines[0] == (f":rotating_light: *{A_SLACK} win rate is 29.9%*, below the 90% threshold — 67 won "
                              "of 224 closed in 2025Q2 (95% CI 24.3–36.2%); exact binomial test against 90%: p&lt;0.001.")
    assert alerts[0]["text"].startswith(f":rotating_light: {A_SLACK} win rate is 29.9%, below")  # the notification
    assert any(line.startswith(f":rotating_light: *{A_SLACK} win rate dropped to 29.9%* in 2025Q2") for line in first_lines)
    gap = next(m for m in alerts if "less often than" in all_text(m))
    assert all_text(gap).startswith(f":rotating_light: *{OUT_SLACK} deals win ")
    assert f"less often than {REFERRAL}* in 2025Q2" in all_text(gap)
    big = next(m for m in alerts if ":moneybag:" in all_text(m))
    assert all_text(big).startswith(f":moneybag: *{DEAL_SLACK} ($210k) is at risk*: ")
    for message in alerts:
        inert(message)


def test_the_home_tab_shows_hostile_labels_as_text(services, store, client, slack):
    store.add_rule(AlertKind.WINRATE_BELOW, (("product_type", ("_pro_",)),), 0.3, created_by="U0CRO")
    store.add_follow(f"/winrate {A}", "weekly", "D0CRO", "U0CRO")
    publish_home({"type": "app_home_opened", "user": "U0CRO", "tab": "home"}, client, services=services)
    view = slack.home_views["U0CRO"]
    assert block_errors(view["blocks"], 100) == []
    text = all_text(view)
    assert f"• `1` win rate of {PRO_SLACK} below 30% (the period in question: the latest complete quarter)" in text
    assert f"• `1` `/winrate {A}` weekly" in text  # a command in a code span: as typed, nothing styles there
    assert "win rate of _pro_ below 30%" in inert(view)


def test_a_question_asked_back_and_the_read_as_line_show_hostile_labels_as_text(services, client, slack):
    asked = answer_in_thread(services, client, "how are we doing in _pro_", "U0CRO", "D0CRO", f"{time.time():.6f}")
    text = all_text(asked["message"])
    assert text.startswith(f"“how are we doing in {PRO_SLACK}” reads two ways")
    assert f"• Trend of win rate · {PRO_SLACK}\n• Win rate · {PRO_SLACK}\n" in text  # the readings, then as buttons
    buttons = [e for b in asked["message"]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons][:2] == ["Trend of win rate · _pro_", "Win rate · _pro_"]  # plain text
    inert(asked["message"])
    # the question asked back is kept for /feedback, whose list names the label too
    listed = ask(services.data, services.policy.asker("U0CRO"), "/feedback", store=services.store)
    text = "\n".join(mrkdwn(reply_message(listed, listed.line)["blocks"]))
    assert f"not read · “how are we doing in {PRO_SLACK}”" in text
    answered = answer_in_thread(services, client, "why did win rate drop for _pro_?", "U0CRO", "D0CRO",
                                f"{time.time():.6f}")
    read_as = answered["message"]["blocks"][0]["elements"][0]["text"]
    assert read_as == f"_Read as: Why win rate changed · {PRO_SLACK}_"
    assert mrkdwn(answered["message"]["blocks"])[1].startswith(f"*Why did the win rate change? · {PRO_SLACK}*")
    inert(answered["message"])


def test_a_deal_id_in_an_answer_is_shown_as_written(data, services, client, slack):
    posted = answer_in_thread(services, client, "/pipeline", "U0CRO", "D0CRO", f"{time.time():.6f}")
    text = "\n".join(mrkdwn(posted["message"]["blocks"]))
    assert f"1. {DEAL_SLACK} · rep_12 · $210k · " in text
    assert f"1. {DEAL_SHOWN} · rep_12 · $210k · " in inert(posted["message"])
    reply = ask(data, Policy(users=frozenset({"U0CRO"})).asker("U0CRO"), "/pipeline")
    assert reply.shown[0] == DEAL_SHOWN and f"1. {DEAL_SHOWN} · rep_12" in reply.text  # the console: as printed


def test_charts_draw_mathtext_labels_as_text_and_their_files_carry_them(data, store, client, slack):
    who = Policy(users=frozenset({"U0CRO"})).asker("U0CRO", "D0CRO")
    for line, title in (("/why $x^2$", "Why the win rate changed · $x^2$ · 2024Q2 to 2025Q1 (4 quarters) to 2025Q2"),
                        ("/trend $\\frac{$ health", "Win rate by quarter · $\\frac{$ health"),
                        ("/drivers", "What goes with winning · all deals")):
        reply = ask(data, who, line)
        assert reply.kind == "answer", reply.text
        chart = reply.chart()  # None if drawing failed: a `$\frac{$` read as mathtext raises
        assert chart is not None and chart.png.startswith(b"\x89PNG") and chart.title == title, line
    store.add_follow("/why $x^2$", "daily", "C0DIGEST", "U0CRO")
    [outcome] = post_follows(client, store, data, FollowSchedule("tue", "09:00"), NOW)
    assert outcome.status == "posted"
    [upload] = slack.files.values()
    assert upload["bytes"].startswith(b"\x89PNG") and upload["filename"].startswith("winrate-bridge-x-2-")
    [post] = slack.messages["C0DIGEST"]
    inert(post)
