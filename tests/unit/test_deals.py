"""/deals: the deals behind a number, counted exactly and listed largest first, closed or open."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import snapshot_of

from bot.core.commands import answer
from bot.core.grammar import Vocabulary
from insights.deals import SHOWN, deal_table, deals_behind
from insights.load import from_table
from insights.query import Query
from insights.select import filter_mask, period_mask, resolve_periods
from insights.synthetic import demo_spec


@pytest.fixture(scope="module")
def demo():
    return snapshot_of(demo_spec())


def brute_force(snap, query):
    """The selection sorted in full with pandas: what the reply's list must be the head of."""
    if query.outcome == "open":
        frame = snap.open_deals[filter_mask(snap, query.filters, open_pipeline=True)]
    else:
        period, _ = resolve_periods(snap, query)
        mask = filter_mask(snap, query.filters) & period_mask(snap, period)
        if query.outcome:
            mask &= snap.won == (query.outcome == "won")
        frame = snap.deals[mask]
    return frame.sort_values(["deal_amount", "deal_id"], ascending=[False, True])


@pytest.mark.parametrize("query", [Query(), Query(outcome="lost", filters=(("region", ("APAC",)),)),
                                   Query(outcome="won"), Query(outcome="open"),
                                   Query(outcome="open", filters=(("product_type", ("Pro",)),))])
def test_counts_and_the_largest_deals_match_a_full_sort(demo, query):
    r = deals_behind(demo, query)
    want = brute_force(demo, query)
    assert r.count == len(want) > SHOWN
    assert r.amount == pytest.approx(want["deal_amount"].sum())
    assert [d.deal_id for d in r.deals] == want["deal_id"].head(SHOWN).tolist()
    if query.outcome == "open":
        assert r.won == r.lost == 0 and {d.outcome for d in r.deals} == {"Open"} and r.deals[0].closed is None
    else:
        assert r.won == int((want["outcome"] == "Won").sum()) and r.won + r.lost == r.count


def test_open_deals_answer_in_words_and_their_csv_says_open(demo):
    vocab = Vocabulary.from_snapshot(demo)
    reply = answer(demo, "/deals open", vocab)
    assert reply.kind == "answer", reply.text
    assert f"{len(demo.open_deals):,} open deals" in reply.text
    table = deal_table(demo, Query(outcome="open"))
    assert len(table) == len(demo.open_deals) and set(table["outcome"]) == {"Open"}
    assert answer(demo, "which open deals are in APAC", vocab).kind == "answer"


def test_equal_amounts_are_listed_by_deal_id():
    rows = 200
    frame = pd.DataFrame({
        "deal_id": [f"D{k:04d}" for k in np.random.default_rng(1).permutation(rows)],
        "created_date": [str(dt.date(2025, 1, 1) + dt.timedelta(days=k % 60)) for k in range(rows)],
        "closed_date": [str(dt.date(2025, 1, 31) + dt.timedelta(days=k % 60)) for k in range(rows)],
        "deal_amount": "5000",
        "outcome": ["Won", "Lost"] * (rows // 2), "region": "APAC", "industry": "SaaS", "product_type": "Pro",
        "lead_source": "Inbound", "deal_stage": "Closed", "sales_rep_id": "rep_1",
    })
    frame.loc[7, "deal_amount"] = "9000"  # one larger deal first, then the ties in id order
    snap = from_table(frame)
    r = deals_behind(snap, Query())
    assert r.count == rows and r.period.label == "2025Q1"
    ids = sorted(frame["deal_id"].drop(index=7))
    assert [d.deal_id for d in r.deals] == [frame.loc[7, "deal_id"]] + ids[:SHOWN - 1]


def test_a_crm_that_zeroes_lost_amounts_is_never_summed_as_0_dollars_lost():
    from insights.synthetic import crm_spec, generate_deals
    snap = from_table(generate_deals(crm_spec(n_deals=6000, seed=5)))
    assert snap.report.lost_amounts_zeroed
    vocab = Vocabulary.from_snapshot(snap)
    lost = answer(snap, "/deals lost", vocab).text.splitlines()[0]
    assert lost.endswith("229 lost deals, amounts not recorded (this CRM records a lost deal at $0)"), lost
    closed = answer(snap, "/deals", vocab).text.splitlines()[0]
    assert "(251 won, 229 lost), $7.2M won (this CRM records a lost deal at $0)" in closed, closed
