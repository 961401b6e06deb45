"""Mappings that never fail quietly: exports as CRMs write them (currency strings, IsWon/IsClosed flags,
odd stage names), the mapping examples of docs/data.md loaded verbatim, and clear errors when nothing is usable."""
from __future__ import annotations

import io
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import build_parser, run_ask
from bot.config import Settings
from bot.core.commands import answer
from insights.load import ColumnMapping, DataError, load_deals
from insights.mapping import parse_amounts, stage_records_outcome_only
from insights.synthetic import demo_spec, generate_deals

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2024-07-15").date()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_deals(demo_spec())


@pytest.fixture(scope="module")
def canonical(demo_csv):
    """The same deals as `frame`, from the demo CSV (conftest)."""
    return demo_csv


def readme_blocks(language: str) -> list[str]:
    """The code blocks of the data docs, where a user copies a mapping from."""
    text = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def mapping_blocks() -> list[str]:
    return [b for b in readme_blocks("toml") if "[columns]" in b]


# -- amounts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("$12,345.00", 12345.0), ("EUR 1.234,50", 1234.5), ("1.234,50 €", 1234.5), ("12 345,67 EUR", 12345.67),
    ("USD 12,345", 12345.0), ("CHF 1'234.50", 1234.5), ("¥1,000,000", 1_000_000.0), ("£ 99.99", 99.99),
    ("(1,200.00)", -1200.0), ("-$50", -50.0), ("$-50", -50.0), ("1.234.567", 1_234_567.0), ("12,5", 12.5),
    ("2500", 2500.0), ("2,500", 2500.0), ("0", 0.0), ("1e3", 1000.0), ("US$ 10", 10.0), ("10 USD", 10.0),
])
def test_currency_formatted_amounts_parse(text, value):
    assert parse_amounts(pd.Series([text])).iloc[0] == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "abc", "12abc", "$", "1,234.5.6", "(12", "TBD", "USD", "12 apples"])
def test_text_that_is_not_an_amount_stays_unparsed(text):
    assert np.isnan(parse_amounts(pd.Series([text])).iloc[0])


def test_the_decimal_mark_can_be_fixed_for_a_file():
    text = pd.Series(["EUR 1.234", "1.234,5", "12,345"])
    assert parse_amounts(text, ",").tolist() == [1234.0, 1234.5, 12.345]
    assert parse_amounts(text, None).tolist() == [1.234, 1234.5, 12345.0]


def test_unparseable_amounts_are_set_aside_and_counted_not_guessed(tmp_path):
    path = tmp_path / "deals.csv"
    rows = ["deal_id,created_date,closed_date,sales_rep_id,industry,region,product_type,lead_source,deal_stage,"
            "deal_amount,outcome"]
    amounts = ["$1,000.00", "EUR 2.000,50", "call me", "$", "3000"]
    for k, a in enumerate(amounts):
        rows.append(f'D{k},2024-01-01,2024-02-01,r1,Tech,APAC,Core,Referral,Closed,"{a}",Won')
    path.write_text("\n".join(rows) + "\n")
    s = load_deals(path)
    assert s.deals["deal_amount"].tolist() == [1000.0, 2000.5, 3000.0]
    assert s.report.set_aside == {"missing_amount": 2}
    assert s.report.examples == {"missing_amount": [4, 5]}


# -- the docs' mapping examples, verbatim -----------------------------------------------------------

def salesforce_report(frame: pd.DataFrame) -> pd.DataFrame:
    """The demo deals as the README's first example expects them: US dates, `$` amounts, one Stage column."""
    is_open = frame["outcome"] == ""
    stage = np.where(frame["outcome"] == "Won", "Closed Won",
                     np.where(frame["outcome"] == "Lost", "Closed Lost", "Negotiation/Review"))
    close = frame["closed_date"].where(~is_open, frame["created_date"] + pd.Timedelta(days=90))
    return pd.DataFrame({
        "Opportunity ID": frame["deal_id"],
        "Created Date": frame["created_date"].dt.strftime("%m/%d/%Y"),
        "Close Date": close.dt.strftime("%m/%d/%Y"),
        "Stage": stage,
        "Amount": frame["deal_amount"].map(lambda a: f"${a:,.2f}"),
        "Lead Source": frame["lead_source"],
        "Opportunity Owner": frame["sales_rep_id"],
        "Industry": frame["industry"],
        "Billing Region": frame["region"],
        "Product Family": frame["product_type"],
    })


def salesforce_api(frame: pd.DataFrame) -> pd.DataFrame:
    """The demo deals as Salesforce's API names them: IsClosed/IsWon flags, EUR-style amounts, open
    deals still at a stage with an expected close date after today."""
    is_open = frame["outcome"] == ""
    close = frame["closed_date"].where(~is_open, pd.Timestamp.today().normalize() + pd.Timedelta(days=60))
    euros = frame["deal_amount"].map(lambda a: f"{a:,.2f}".replace(",", "X").replace(".", ",").replace("X", "."))
    return pd.DataFrame({
        "Id": frame["deal_id"],
        "CreatedDate": frame["created_date"].dt.strftime("%Y-%m-%dT09:30:00.000+0000"),
        "CloseDate": close.dt.strftime("%Y-%m-%d"),
        "StageName": np.where(is_open, "Prospecting", np.where(frame["outcome"] == "Won", "Closed Won", "Closed Lost")),
        "IsClosed": np.where(is_open, "false", "true"),
        "IsWon": np.where(frame["outcome"] == "Won", "true", "false"),
        "Amount": euros,
        "LeadSource": frame["lead_source"],
        "Owner.Name": frame["sales_rep_id"],
        "Account.Industry": frame["industry"],
        "Region__c": frame["region"],
        "Product_Family__c": frame["product_type"],
    })


def test_the_readme_has_the_two_mapping_examples():
    assert len(mapping_blocks()) == 2


def same_deals(s, canonical):
    assert s.report.set_aside == {}
    assert s.as_of == canonical.as_of == AS_OF
    assert s.deals["deal_id"].tolist() == canonical.deals["deal_id"].tolist()
    assert s.deals["outcome"].tolist() == canonical.deals["outcome"].tolist()
    assert np.allclose(s.deals["deal_amount"], canonical.deals["deal_amount"])
    assert s.deals["closed_date"].tolist() == canonical.deals["closed_date"].tolist()
    assert len(s.open_deals) == len(canonical.open_deals) == 662
    assert (s.open_deals["outcome"] == "").all() and s.open_deals["closed_date"].isna().all()


def test_readme_report_example_loads_a_salesforce_report_as_written(frame, canonical, tmp_path):
    block = mapping_blocks()[0]
    (tmp_path / "mapping.toml").write_text(block)
    salesforce_report(frame).to_csv(tmp_path / "report.csv", index=False)
    s = load_deals(tmp_path / "report.csv", ColumnMapping.from_file(tmp_path / "mapping.toml"))
    same_deals(s, canonical)
    assert s.values("deal_stage") == ("Negotiation/Review", "Closed Won", "Closed Lost")  # the configured order
    assert s.report.stage_outcome_only
    for line in ("/winrate by region", "/trend", "/risk"):
        assert answer(s, line).text.split("\n", 1)[1] == answer(canonical, line).text.split("\n", 1)[1]


def test_readme_api_example_keeps_open_deals_open_and_the_as_of_date(frame, canonical, tmp_path):
    block = mapping_blocks()[1]
    (tmp_path / "mapping.toml").write_text(block)
    salesforce_api(frame).to_csv(tmp_path / "api.csv", index=False)
    s = load_deals(tmp_path / "api.csv", ColumnMapping.from_file(tmp_path / "mapping.toml"))
    same_deals(s, canonical)  # 662 open deals with future close dates stay open, as of 2024-07-15
    assert s.open_deals["deal_stage"].astype(str).unique().tolist() == ["Prospecting"]
    assert answer(s, "/winrate by region 2024Q2").text == answer(canonical, "/winrate by region 2024Q2").text \
        .replace("synthetic", "synthetic")


def test_absent_written_after_columns_still_means_absent():
    raw = tomllib.loads('[columns]\ndeal_id = "Id"\nabsent = ["industry"]\n')
    mapping = ColumnMapping.from_dict(raw)
    assert mapping.absent == ("industry",) and mapping.columns == {"deal_id": "Id"}


# -- outcome flags ---------------------------------------------------------------------------------------

def test_a_won_flag_without_a_closed_flag_is_refused_with_the_reason():
    with pytest.raises(DataError, match="cannot tell an open deal from a lost one: map is_closed"):
        ColumnMapping.from_dict({"columns": {"outcome": "Won"}, "outcome": {"won": [1], "lost": [0]}})


def test_won_one_zero_with_is_closed_maps_open_deals_to_open(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "Id,Created,Closed,Owner,Industry,Region,Product,Source,Stage,Amount,Won,Closed?\n"
        "A,2024-01-02,2024-03-01,ann,Tech,APAC,Core,Web,Negotiation,\"$1,000\",1,1\n"
        "B,2024-01-02,2024-03-05,ann,Tech,APAC,Core,Web,Demo,$500,0,1\n"
        "C,2024-02-02,2099-01-01,bob,Tech,EMEA,Core,Web,Proposal,$700,0,0\n"  # open: an expected close date
        "D,2024-02-02,,bob,Tech,EMEA,Core,Web,Proposal,$700,1,1\n"  # closed without a close date
        "E,2024-02-02,2099-01-01,bob,Tech,EMEA,Core,Web,Proposal,$700,1,1\n"  # closed in the future
        "F,2024-02-02,2024-03-01,bob,Tech,EMEA,Core,Web,Proposal,$700,1,maybe\n"
    )
    mapping = ColumnMapping.from_dict({"columns": {
        "deal_id": "Id", "created_date": "Created", "closed_date": "Closed", "sales_rep_id": "Owner",
        "product_type": "Product", "lead_source": "Source", "deal_stage": "Stage", "deal_amount": "Amount",
        "outcome": "Won", "is_closed": "Closed?"}})
    s = load_deals(path, mapping)
    assert s.deals["deal_id"].tolist() == ["A", "B"] and s.deals["outcome"].tolist() == ["Won", "Lost"]
    assert s.open_deals["deal_id"].tolist() == ["C"] and s.open_deals["closed_date"].isna().all()
    assert s.report.set_aside == {"unknown_outcome": 1, "unparseable_closed_date": 1, "future_closed_date": 1}
    assert s.report.examples == {"unknown_outcome": [7], "unparseable_closed_date": [5], "future_closed_date": [6]}
    assert s.as_of.isoformat() == "2024-03-05"  # neither 2099 date moved it


# -- stages ------------------------------------------------------------------------------------------------

def test_stage_order_is_configurable_and_gives_pass_rates(frame, tmp_path):
    names = {"Qualified": "Discovery", "Demo": "Solutioning", "Proposal": "Quote", "Negotiation": "Legal",
             "Closed": "Signed"}
    export = frame.assign(deal_stage=frame["deal_stage"].map(names), closed_date=frame["closed_date"].dt.strftime(
        "%Y-%m-%d").fillna(""), created_date=frame["created_date"].dt.strftime("%Y-%m-%d"))
    export.to_csv(tmp_path / "deals.csv", index=False)
    order = ["Discovery", "Solutioning", "Quote", "Legal", "Signed"]
    without = load_deals(tmp_path / "deals.csv")
    with_order = load_deals(tmp_path / "deals.csv", ColumnMapping.from_dict({"stages": order}))
    assert without.values("deal_stage") != tuple(order)  # alphabetical: a funnel in the wrong order
    assert with_order.values("deal_stage") == tuple(order)
    funnel = answer(with_order, "/funnel all").result
    assert funnel.stage_order_known and [r.stage for r in funnel.stages] == order
    assert funnel.stages[0].reached == funnel.overall.n == 6338
    assert funnel.stages[0].pass_rate is not None and funnel.stages[-1].lost_here == 0
    assert "not computed" in answer(without, "/funnel all").text


def test_stage_and_outcome_from_one_column_give_a_funnel_that_says_so(frame, tmp_path):
    report = salesforce_report(frame)
    report.to_csv(tmp_path / "report.csv", index=False)
    mapping = ColumnMapping.from_dict(tomllib.loads(mapping_blocks()[0]))
    s = load_deals(tmp_path / "report.csv", mapping)
    funnel = answer(s, "/funnel all")
    assert funnel.result.stages == [] and "stage_outcome_only" in funnel.result.notes
    assert "records only the outcome" in funnel.text and "Closed Won" not in funnel.text
    why = answer(s, "/why")
    assert "stage_outcome_only" in why.result.notes
    assert why.result.dimensions and all("deal_stage" not in d.dimension for d in why.result.dimensions)
    assert "records only the outcome" in answer(s, "/health").text


def test_stages_won_and_lost_make_the_stage_column_the_outcome():
    m = ColumnMapping.from_dict({"columns": {"deal_stage": "Stage"},
                                 "stages": {"order": ["Open", "Won!", "Lost!"], "won": ["Won!"], "lost": ["Lost!"]},
                                 "outcome": {"others_are": "open"}})
    assert m.columns["outcome"] == "Stage" and m.won_values == ("won!",) and m.lost_values == ("lost!",)
    assert m.stage_order == ("Open", "Won!", "Lost!")


def test_outcome_only_stage_detection():
    won = np.array([True, True, False, False])
    assert stage_records_outcome_only(np.array([0, 0, 1, 1]), won, 2)
    assert not stage_records_outcome_only(np.array([2, 2, 0, 1]), won, 3)  # lost deals at two stages
    assert not stage_records_outcome_only(np.array([0, 0, 0, 0]), won, 1)


# -- drivers name only the factors used --------------------------------------------------------------------

def test_drivers_formula_names_only_columns_really_used(frame, tmp_path):
    report = salesforce_report(frame).drop(columns=["Industry"])
    report.to_csv(tmp_path / "report.csv", index=False)
    text = mapping_blocks()[0].replace('industry = "Industry"\n', "").replace("absent = []", 'absent = ["industry"]')
    s = load_deals(tmp_path / "report.csv", ColumnMapping.from_dict(tomllib.loads(text)))
    reply = answer(s, "/drivers")
    analysis, lacks = reply.text.rsplit("\n", 1)  # the last line says, once, which columns the data lacks
    assert "industry" not in reply.result.inputs and "industry" not in analysis.lower()
    assert lacks == "_This data has no industry column: it is left out of every breakdown and search._"
    assert "won ~ region + product + lead source + deal size + cycle length" in reply.text
    one_region = answer(s, "/drivers APAC")
    assert "won ~ industry" not in one_region.text and "won ~ region" not in one_region.text
    assert "won ~ product + lead source + deal size + cycle length" in one_region.text


# -- nothing usable: exit 1 with the reason ----------------------------------------------------------------

def test_a_mapping_that_sets_every_row_aside_exits_1_with_the_reason(frame, tmp_path):
    salesforce_report(frame).to_csv(tmp_path / "report.csv", index=False)
    wrong = mapping_blocks()[0].replace('won = ["Closed Won"]', 'won = ["Won"]') \
        .replace('lost = ["Closed Lost"]', 'lost = ["Lost"]').replace('others_are = "open"', 'others_are = "invalid"')
    (tmp_path / "wrong.toml").write_text(wrong)
    settings = Settings.from_env({})
    for fmt in ("text", "json"):
        args = build_parser(settings).parse_args(["ask", "/winrate", "--data", str(tmp_path / "report.csv"),
                                                  "--mapping", str(tmp_path / "wrong.toml"), "--format", fmt])
        out = io.StringIO()
        assert run_ask(args, settings, out=out) == 1
        text = out.getvalue()
        assert "no usable closed deals: 7,000 rows read, 0 open, 7,000 set aside" in text
        assert "unknown_outcome 7,000 (e.g. rows 2, 3, 4, 5, 6)" in text
    assert json.loads(text)["error"] == "data"
