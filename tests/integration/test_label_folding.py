"""A segment label written several ways ("Europe", "EUROPE", "europe"; "North America", "NorthAmerica") is one
segment: merged at load under its most common spelling, on the in-memory path and the engine path alike, with
the same answers; a typed filter or an access grant in any spelling reaches every deal of it; /health says what
was merged. A label that differs by more than case, spaces and punctuation ("Europa"), and rep ids, stay apart."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bot.core.access import Asker
from bot.core.ask import ask
from bot.core.data import DealData
from bot.core.scope import Scope
from insights.engine.snapshot import EngineSnapshot
from insights.labels import Fold, fold_key, fold_labels
from insights.results import to_jsonable
from insights.snapshot import Snapshot
from insights.sources import SourceSpec
from insights.synthetic import DealSpec, generate_deals

# rows relabelled per (column, label written, how many), taken in file order from the rows of the true label
PLANTED = [
    ("region", "Europe", "EUROPE", 40),
    ("region", "Europe", "europe", 25),
    ("region", "Europe", " Europe ", 5),  # surrounding spaces: stripped at read, not a spelling at all
    ("region", "Europe", "Europa", 20),  # another word: its own segment
    ("region", "North America", "NorthAmerica", 30),
    ("industry", "SaaS", "Saa S", 12),
    ("deal_stage", "Negotiation", "NEGOTIATION", 10),
    ("lead_source", "Partner", "<!channel>", 8),
    ("lead_source", "Partner", "<!CHANNEL>", 3),
    ("sales_rep_id", "rep_4", "REP_4", 6),  # rep ids are not merged
]


def test_the_fold_key_ignores_case_spaces_and_punctuation_and_nothing_else():
    same = ["North America", "NORTH AMERICA", "NorthAmerica", "north america", "north-america", " North  America."]
    assert {fold_key(s) for s in same} == {"northamerica"}
    assert fold_key("Fin Tech") == fold_key("FinTech") == fold_key("FINTECH")
    assert fold_key("Café") == fold_key("Cafe\u0301") == fold_key("CAFÉ")  # composed or not
    for a, b in [("Europe", "Europa"), ("C++", "C"), ("1.5", "15"), ("Tier 1", "Tier 2"), ("-", "?")]:
        assert fold_key(a) != fold_key(b), (a, b)


def test_the_most_common_spelling_is_kept_and_a_tie_goes_to_the_first_in_order():
    mapping, folds = fold_labels("region", {"Europe": 300, "EUROPE": 60, "europe": 12, "Europa": 5, "APAC": 9, "Apac": 9})
    assert mapping == {"Europe": "Europe", "EUROPE": "Europe", "europe": "Europe", "Europa": "Europa",
                       "APAC": "APAC", "Apac": "APAC"}
    assert folds == (Fold("region", "Europe", 372, (("EUROPE", 60), ("europe", 12))),
                     Fold("region", "APAC", 18, (("Apac", 9),)))
    assert fold_labels("sales_rep_id", {"rep_1": 5, "REP_1": 2}) == ({"rep_1": "rep_1", "REP_1": "REP_1"}, ())


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(the CSV, the generated deals before any relabelling, the rows relabelled per written label)."""
    truth = generate_deals(DealSpec(n_deals=1_500, seed=3))
    frame = truth.copy()
    frame["region"] = frame["region"].astype(object)
    used: set[int] = set()
    rows: dict[str, np.ndarray] = {}
    for column, label, written, count in PLANTED:
        frame[column] = frame[column].astype(object)
        candidates = [i for i in np.flatnonzero((truth[column] == label).to_numpy()) if i not in used][:count]
        assert len(candidates) == count
        used.update(candidates)
        frame.loc[candidates, column] = written
        rows[written] = np.array(candidates)
    path = tmp_path_factory.mktemp("fold") / "deals.csv"
    frame.to_csv(path, index=False)
    return str(path), truth, rows


@pytest.fixture(scope="module")
def both(planted):
    path = planted[0]
    memory, engine = (DealData(SourceSpec(path, engine=kind)) for kind in ("memory", "engine"))
    assert memory.refresh().ok and engine.refresh().ok
    assert isinstance(memory.current.snapshot, Snapshot) and isinstance(engine.current.snapshot, EngineSnapshot)
    return memory, engine


def test_both_paths_merge_the_spellings_and_report_the_same_merges(planted, both):
    _, truth, rows = planted
    memory, engine = (d.current.snapshot for d in both)
    kept = len(truth)  # no row of this data is set aside
    assert memory.report.rows_set_aside == 0 and len(memory.deals) + len(memory.open_deals) == kept
    europe = int((truth["region"] == "Europe").sum()) - len(rows["Europa"])
    expected = (
        Fold("region", "Europe", europe, (("EUROPE", 40), ("europe", 25))),
        Fold("region", "North America", int((truth["region"] == "North America").sum()), (("NorthAmerica", 30),)),
        Fold("industry", "SaaS", int((truth["industry"] == "SaaS").sum()), (("Saa S", 12),)),
        Fold("lead_source", "‹!channel›", 11, (("‹!CHANNEL›", 3),)),
        Fold("deal_stage", "Negotiation", int((truth["deal_stage"] == "Negotiation").sum()), (("NEGOTIATION", 10),)),
    )
    assert memory.report.folded == engine.report.folded == expected
    assert memory.values("region") == engine.values("region") == ("APAC", "Europa", "Europe", "India", "North America")
    assert memory.values("deal_stage") == engine.values("deal_stage")
    assert memory.values("deal_stage")[:5] == ("Qualified", "Demo", "Proposal", "Negotiation", "Closed")
    # the rep ids stay as written: two reps
    assert {"rep_4", "REP_4"} <= set(memory.values("sales_rep_id")) and \
        engine.values("sales_rep_id") == memory.values("sales_rep_id")
    # every deal of the merged segment is in it: the planted truth's count, less the 20 written "Europa"
    both_rows = pd.concat([memory.deals, memory.open_deals])
    assert int((both_rows["region"] == "Europe").sum()) == europe
    assert int((both_rows["region"] == "Europa").sum()) == 20


def as_json(reply) -> str:
    out = to_jsonable(reply.result)
    for key in ("loaded_at", "load_seconds", "query_seconds"):
        out.pop(key, None)
    return json.dumps(out, default=str)


def test_a_typed_filter_in_any_spelling_reaches_the_whole_segment_on_both_paths(planted, both):
    _, truth, rows = planted
    user = Asker(user="U1")
    answers = {}
    for data in both:
        for written in ("Europe", "EUROPE", "europe", "region=EUROPE", "region=europe"):
            reply = ask(data, user, f"/winrate {written} all time")
            assert reply.kind == "answer", reply.text
            answers.setdefault(written, []).append(reply)
    closed = truth["outcome"].isin(["Won", "Lost"]).to_numpy()
    europe = (truth["region"] == "Europe").to_numpy().copy()
    europe[rows["Europa"]] = False
    n = int((closed & europe).sum())
    won = int((closed & europe & (truth["outcome"] == "Won").to_numpy()).sum())
    for written, (a, b) in answers.items():
        assert as_json(a) == as_json(b), written
        assert (a.result.overall.n, a.result.overall.won) == (n, won), written
        assert "EUROPE" not in a.text and "Europe" in a.text


def test_an_access_grant_in_any_spelling_sees_every_deal_of_the_segment(both):
    whole = ask(both[0], Asker(user="U0"), "/winrate by region all time").result
    by_label = {g.label: g.n for g in whole.groups}
    for granted in (["EUROPE"], ["europe"], ["north america"], ["NORTHAMERICA"]):
        label = "Europe" if "europe" in granted[0].casefold() else "North America"
        asker = Asker(user="U1", scope=Scope.of([{"region": granted}]))
        seen = [ask(data, asker, "/winrate by region all time") for data in both]
        assert as_json(seen[0]) == as_json(seen[1]), granted
        assert [g.label for g in seen[0].result.groups] == [label]
        assert seen[0].result.overall.n == by_label[label] > 300
        # the merges are counted over every deal: a restricted reader is not told them
        health = ask(both[1], asker, "/health")
        assert "merged" not in health.text and health.result.folded == []


def test_health_lists_the_merges_escaped_and_carries_them_in_its_json(both):
    text, results = None, []
    for data in both:
        reply = ask(data, Asker(user="U0"), "/health")
        results.append(to_jsonable(reply.result)["folded"])
        text = reply.text if text is None else text
        assert "region 5," in reply.text and "industry 5," in reply.text
    assert results[0] == results[1]
    assert results[0][0] == {"dimension": "region", "label": "Europe", "deals": results[0][0]["deals"],
                             "merged_deals": 65, "spellings": {"EUROPE": 40, "europe": 25}}
    assert "Labels written several ways were merged (120 deals relabelled" in text
    assert "• region 'EUROPE', 'europe' → Europe (65 of " in text
    assert "• lead source '‹!CHANNEL›' → ‹!channel› (3 of 11 deals)" in text
    assert "<!channel>" not in text and "<!CHANNEL>" not in text and "Europa" not in text


def test_a_filter_saved_in_an_old_spelling_still_counts_the_whole_segment(both):
    """A rule or a follow saved before the spellings were merged names 'EUROPE': it counts Europe, both paths."""
    from insights.select import filter_mask

    memory, engine = (d.current.snapshot for d in both)
    whole = int(filter_mask(memory, (("region", ("Europe",)),)).sum())
    assert whole > 300
    for old in ("EUROPE", "europe"):
        assert int(filter_mask(memory, (("region", (old,)),)).sum()) == whole
        assert engine.rate(engine.select((("region", (old,)),)))[1] == \
            int((memory.deals["region"] == "Europe").sum()) > 200
    assert int(filter_mask(memory, (("region", ("Europa",)),)).sum()) == 20
