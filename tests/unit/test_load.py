"""Loading a deal export: schema, bad rows set aside with their line numbers, mappings, censoring, as-of."""
from __future__ import annotations

import dataclasses
import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insights.load import REASONS, ColumnMapping, DataError, MissingColumnsError, from_table, load_deals
from insights.schema import CANONICAL_COLUMNS, SOURCE_DIMENSIONS
from insights.synthetic import DealSpec, demo_spec, generate_deals, write_csv

HEADER = ",".join(CANONICAL_COLUMNS)
AS_OF = dt.date(2024, 7, 15)  # the demo's last closed date


# -- fixtures: the demo data generated once, written as CSV and Parquet ------------------------------


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_deals(demo_spec())


@pytest.fixture(scope="module")
def closed_frame(frame) -> pd.DataFrame:
    return frame[frame["outcome"] != ""].reset_index(drop=True)


@pytest.fixture(scope="module")
def csv_path(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("deals") / "deals.csv"
    write_csv(frame, path)
    return path


@pytest.fixture(scope="module")
def snapshot(csv_path):
    return load_deals(csv_path)


def write_lines(path, rows: list[str], header: str = HEADER):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def row(deal_id="D1", created="2024-01-01", closed="2024-02-01", rep="rep_1", industry="SaaS", region="APAC",
        product="Core", source="Inbound", stage="Closed", amount="1000", cycle="31", outcome="Won") -> str:
    return ",".join([deal_id, created, closed, rep, industry, region, product, source, stage, amount, cycle, outcome])


# -- a clean file in the exact schema -------------------------------------------------------------------


def test_clean_csv_loads_every_deal_with_its_values_unchanged(snapshot, frame, closed_frame):
    report = snapshot.report
    assert report.rows_read == len(frame) == 7000
    assert report.set_aside == {} and report.examples == {} and len(snapshot.rejected) == 0
    assert report.closed_deals == len(snapshot.deals) == len(closed_frame) == 6338
    assert report.open_deals == len(snapshot.open_deals) == int((frame["outcome"] == "").sum()) == 662

    deals = snapshot.deals
    assert deals["deal_id"].tolist() == closed_frame["deal_id"].tolist()
    assert deals["outcome"].tolist() == closed_frame["outcome"].tolist()
    assert (deals["created_date"].to_numpy() == closed_frame["created_date"].to_numpy()).all()
    assert (deals["closed_date"].to_numpy() == closed_frame["closed_date"].to_numpy()).all()
    assert np.array_equal(deals["deal_amount"].to_numpy(), closed_frame["deal_amount"].to_numpy(dtype=float))
    assert np.array_equal(deals["sales_cycle_days"].to_numpy(),
                          closed_frame["sales_cycle_days"].astype(float).to_numpy())
    for dim in SOURCE_DIMENSIONS:
        assert deals[dim].astype(str).tolist() == closed_frame[dim].tolist(), dim

    open_frame = frame[frame["outcome"] == ""]
    assert snapshot.open_deals["deal_id"].tolist() == open_frame["deal_id"].tolist()
    assert snapshot.open_deals["closed_date"].isna().all()
    assert snapshot.open_deals["sales_cycle_days"].isna().all()


def test_clean_csv_report_states_date_ranges_and_as_of(snapshot, frame):
    report = snapshot.report
    assert snapshot.as_of == AS_OF
    assert report.closed_range[1] == AS_OF
    assert report.created_range == (frame["created_date"].min().date(), frame["created_date"].max().date())
    assert report.censored_after is None
    assert snapshot.values("region") == ("APAC", "Europe", "India", "North America")
    assert snapshot.values("deal_stage") == ("Qualified", "Demo", "Proposal", "Negotiation", "Closed")
    assert snapshot.values("sales_rep_id")[:3] == ("rep_1", "rep_2", "rep_3")  # natural, not text, order


def test_parquet_loads_exactly_like_csv(frame, snapshot, tmp_path):
    path = tmp_path / "deals.parquet"
    frame.assign(sales_cycle_days=pd.to_numeric(frame["sales_cycle_days"], errors="coerce").astype("Int64")) \
        .to_parquet(path, index=False)
    from_parquet = load_deals(path)
    assert from_parquet.report.rows_read == snapshot.report.rows_read
    assert from_parquet.report.set_aside == {}
    assert from_parquet.as_of == snapshot.as_of
    pd.testing.assert_frame_equal(from_parquet.deals, snapshot.deals)
    pd.testing.assert_frame_equal(from_parquet.open_deals, snapshot.open_deals)


# -- bad rows: one reason each, counted, with file line numbers ------------------------------------------

BAD_ROWS = [
    row("D001"),                                                   # line 2: good, won
    row(""),                                                       # 3 missing_deal_id
    row("D001", amount="5"),                                       # 4 duplicate_deal_id
    row("D003", outcome="Maybe"),                                  # 5 unknown_outcome
    row("D004", created="not a date"),                             # 6 unparseable_created_date
    row("D005", closed="someday", outcome="Lost"),                 # 7 unparseable_closed_date
    row("D006", created="2024-03-01", cycle=""),                   # 8 closed_before_created
    row("D007", amount=""),                                        # 9 missing_amount
    row("D008", amount="-5"),                                      # 10 negative_amount
    row("D009", cycle="abc"),                                      # 11 bad_cycle_days
    row("D010", industry=""),                                      # 12 missing_segment
    row("D011", closed="", stage="Demo", cycle="", outcome=""),    # 13 open (blank outcome)
    row("D012", closed="", stage="Demo", cycle="", outcome="Open"),  # 14 open ("Open")
    row("D013", closed="2024-03-01", amount='"2,500"', cycle="", outcome="lost"),  # 15 good, lost
    row("D014", cycle="-3"),                                       # 16 bad_cycle_days
    row("D015", closed="TBD", stage="Proposal", cycle="", outcome="open"),  # 17 open: its closed date is unused
    row("D016", amount="-1", region=""),                           # 18 negative_amount (checked before segments)
    row("", outcome="Maybe"),                                      # 19 missing_deal_id (checked first)
    row("D017", closed="2099-12-31", cycle=""),                    # 20 future_closed_date (a placeholder)
    row("D018", created="2099-01-01", closed="2099-02-01", cycle=""),  # 21 future_created_date (checked first)
    row("D019", amount="inf"),                                     # 22 non_finite_amount
]
EXPECTED_SET_ASIDE = {
    "missing_deal_id": 2,
    "duplicate_deal_id": 1,
    "unknown_outcome": 1,
    "unparseable_created_date": 1,
    "unparseable_closed_date": 1,
    "closed_before_created": 1,
    "future_created_date": 1,
    "future_closed_date": 1,
    "missing_amount": 1,
    "non_finite_amount": 1,
    "negative_amount": 2,
    "bad_cycle_days": 2,
    "missing_segment": 1,
}
EXPECTED_EXAMPLES = {
    "missing_deal_id": [3, 19],
    "duplicate_deal_id": [4],
    "unknown_outcome": [5],
    "unparseable_created_date": [6],
    "unparseable_closed_date": [7],
    "closed_before_created": [8],
    "future_created_date": [21],
    "future_closed_date": [20],
    "missing_amount": [9],
    "non_finite_amount": [22],
    "negative_amount": [10, 18],
    "bad_cycle_days": [11, 16],
    "missing_segment": [12],
}


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return load_deals(write_lines(tmp_path_factory.mktemp("bad") / "bad.csv", BAD_ROWS))


def test_every_reason_code_is_exercised_by_the_hand_built_file():
    assert set(EXPECTED_SET_ASIDE) == set(REASONS) - {"malformed_row", "unterminated_quote"}  # own files below


def test_each_bad_row_is_set_aside_once_with_its_first_reason_and_counted(bad):
    assert bad.report.set_aside == EXPECTED_SET_ASIDE
    assert list(bad.report.set_aside) == [r for r in REASONS if r not in ("malformed_row", "unterminated_quote")]
    assert bad.report.rows_set_aside == 16


def test_examples_are_file_line_numbers_with_the_header_on_line_one(bad):
    assert bad.report.examples == EXPECTED_EXAMPLES


def test_rejected_rows_keep_their_line_number_reason_and_original_values(bad):
    rejected = bad.rejected
    assert list(rejected.columns[:2]) == ["row", "reason"]
    assert set(CANONICAL_COLUMNS) <= set(rejected.columns)
    assert rejected["row"].tolist() == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 18, 19, 20, 21, 22]
    by_line = rejected.set_index("row")
    assert by_line.loc[5, "outcome"] == "Maybe"
    assert by_line.loc[6, "created_date"] == "not a date"
    assert by_line.loc[11, "sales_cycle_days"] == "abc"
    assert by_line.loc[10, "deal_amount"] == "-5"
    assert by_line.loc[20, "closed_date"] == "2099-12-31" and by_line.loc[20, "reason"] == "future_closed_date"
    assert by_line.loc[4, "deal_id"] == "D001" and by_line.loc[4, "reason"] == "duplicate_deal_id"


def test_good_rows_become_closed_deals_or_open_pipeline(bad):
    assert bad.deals["deal_id"].tolist() == ["D001", "D013"]
    assert bad.deals["outcome"].tolist() == ["Won", "Lost"]
    assert bad.deals["deal_amount"].tolist() == [1000.0, 2500.0]  # the first copy of D001; "2,500" read as 2500
    assert bad.deals["sales_cycle_days"].tolist() == [31.0, 60.0]  # D013's blank cycle derived from its dates
    assert bad.open_deals["deal_id"].tolist() == ["D011", "D012", "D015"]
    assert bad.open_deals["outcome"].tolist() == ["", "", ""]


def test_rows_are_never_lost(bad, snapshot):
    for s in (bad, snapshot):
        r = s.report
        assert r.rows_read == r.closed_deals + r.open_deals + r.rows_set_aside
        assert r.rows_read == len(s.deals) + len(s.open_deals) + len(s.rejected)
    assert bad.report.rows_read == len(BAD_ROWS)


def test_examples_name_at_most_the_first_five_lines(tmp_path):
    rows = [row(f"D{i}", amount="" if i % 2 else "10") for i in range(1, 16)]  # odd ids on lines 2, 4, ..., 16
    s = load_deals(write_lines(tmp_path / "many.csv", rows))
    assert s.report.set_aside == {"missing_amount": 8}
    assert s.report.examples == {"missing_amount": [2, 4, 6, 8, 10]}
    assert len(s.rejected) == 8


CELL = st.sampled_from(["", "x", "Won", "Lost", "open", "2024-01-01", "2024-02-30", "2023-12-31", "-1", "0",
                        "12", "1,000", "abc", "APAC", "é", " ", "nan", "9999-12-31", "0001-01-01", "2024-01-01Z"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, min_size=len(CANONICAL_COLUMNS), max_size=len(CANONICAL_COLUMNS)),
                min_size=1, max_size=25))
def test_any_table_of_text_loads_without_losing_a_row(cells):
    raw = pd.DataFrame(cells, columns=list(CANONICAL_COLUMNS))
    s = from_table(raw)
    r = s.report
    assert r.rows_read == len(raw) == r.closed_deals + r.open_deals + r.rows_set_aside
    assert set(r.set_aside) <= set(REASONS)
    assert sorted(s.rejected["row"]) == s.rejected["row"].tolist()
    assert set(s.rejected["row"]).issubset(range(2, len(raw) + 2))
    assert set(s.deals["outcome"]) <= {"Won", "Lost"}


def test_line_numbers_count_blank_lines_in_the_file(tmp_path):
    path = write_lines(tmp_path / "blank.csv", [row("D1"), "", row("D2"), row("", amount="7")])
    s = load_deals(path)
    assert s.report.examples == {"missing_deal_id": [5]}


def test_a_ragged_row_with_extra_fields_is_not_lost(tmp_path):
    path = write_lines(tmp_path / "ragged.csv", [row("D1"), row("D2") + ",extra", row("D3")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = load_deals(path)
    assert s.report.rows_read == 3
    assert s.report.set_aside == {"malformed_row": 1} and s.report.examples == {"malformed_row": [3]}
    assert len(s.deals) + len(s.open_deals) == 2


# -- files that cannot be used at all ---------------------------------------------------------------------


def test_missing_columns_error_names_each_missing_column_and_the_columns_found(tmp_path, frame):
    path = tmp_path / "partial.csv"
    write_csv(frame.head(20).drop(columns=["region", "outcome"]), path)
    with pytest.raises(MissingColumnsError) as caught:
        load_deals(path)
    err = caught.value
    assert err.missing == ["outcome"]  # a segment column (region) may be missing; the outcome may not
    assert err.found == [c for c in CANONICAL_COLUMNS if c not in ("region", "outcome")]
    message = str(err)
    assert "missing 1 required column(s): outcome." in message
    assert "Columns found: deal_id, created_date, closed_date, sales_rep_id, industry, product_type," in message
    assert "--mapping" in message  # no mapping was given, so the message says how to supply one
    assert isinstance(err, DataError)


def test_sales_cycle_days_is_the_only_column_that_may_be_missing(tmp_path, frame, closed_frame):
    path = tmp_path / "no_cycle.csv"
    write_csv(frame.drop(columns=["sales_cycle_days"]), path)
    s = load_deals(path)
    assert s.report.set_aside == {}
    assert np.array_equal(s.deals["sales_cycle_days"].to_numpy(),
                          closed_frame["sales_cycle_days"].astype(float).to_numpy())


def test_header_names_are_matched_ignoring_case_and_spaces(tmp_path):
    header = HEADER.replace("deal_id", "Deal ID").replace("outcome", "OUTCOME")
    s = load_deals(write_lines(tmp_path / "caps.csv", [row("D1"), row("D2", outcome="Lost")], header=header))
    assert s.deals["deal_id"].tolist() == ["D1", "D2"]


def test_a_missing_file_is_a_data_error_naming_the_path(tmp_path):
    path = tmp_path / "nowhere" / "deals.csv"
    with pytest.raises(DataError, match="No deal file at") as caught:
        load_deals(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("deals.json", b'{"deals": []}', "Unsupported file type .json"),
        ("deals.xlsx", b"PK\x03\x04not really a workbook", "Unsupported file type .xlsx"),
        ("deals.parquet", b"PK\x03\x04this is not parquet", "Cannot read"),
        ("deals.csv", b"", "Cannot read"),
    ],
)
def test_a_file_that_is_not_a_deal_table_is_a_data_error(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_deals(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_text_file_of_prose_reports_the_missing_columns(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Q3 pipeline review notes\nremember to call Acme\n")
    with pytest.raises(MissingColumnsError, match=r"missing 5 required column\(s\).*Columns found: Q3 pipeline"):
        load_deals(path)


def test_zoned_timestamps_load_as_their_utc_dates(tmp_path):
    # regression: a zoned timestamp used to crash the flexible date parse with a TypeError
    rows = [row("D1", created="2024-01-01T09:30:00Z", closed="2024-02-01T17:00:00.000Z"),
            row("D2", created="2024-01-01", closed="2024-01-31T23:00:00-05:00", cycle="")]
    s = load_deals(write_lines(tmp_path / "zoned.csv", rows))
    assert s.report.set_aside == {}
    assert s.deals["created_date"].dt.date.tolist() == [dt.date(2024, 1, 1)] * 2
    assert s.deals["closed_date"].dt.date.tolist() == [dt.date(2024, 2, 1), dt.date(2024, 2, 1)]
    assert s.deals["sales_cycle_days"].tolist() == [31.0, 31.0]


def test_dates_outside_the_plausible_years_are_set_aside_as_unparseable(tmp_path):
    # regression: "-1" parsed as year -1 and crashed the report; 9999-12-31 became the as-of date
    rows = [row("D1"),
            row("D2", created="-1"),
            row("D3", created="0001-01-01"),
            row("D4", closed="9999-12-31"),
            row("D5", closed="9999-12-31", stage="Demo", outcome="")]  # an open deal's placeholder is unused
    s = load_deals(write_lines(tmp_path / "placeholders.csv", rows))
    assert s.report.set_aside == {"unparseable_created_date": 2, "unparseable_closed_date": 1}
    assert s.report.examples == {"unparseable_created_date": [3, 4], "unparseable_closed_date": [5]}
    assert s.as_of == dt.date(2024, 2, 1)
    assert s.open_deals["deal_id"].tolist() == ["D5"]


# -- exports with other column names: mapping files ------------------------------------------------------

SF_STAGES = {"Qualified": "Qualification", "Demo": "Needs Analysis", "Proposal": "Proposal/Price Quote",
             "Negotiation": "Negotiation/Review"}

SF_TOML = """
absent = []

[columns]
deal_id = "Opportunity ID"
created_date = "Created Date"
closed_date = "Close Date"
sales_rep_id = "Opportunity Owner"
deal_stage = "Stage"
deal_amount = "Amount"
lead_source = "Lead Source"
outcome = "Stage"
industry = "Industry"
region = "Region"
product_type = "Product"

[outcome]
won = ["Closed Won"]
lost = ["Closed Lost"]
others_are = "open"
"""

SF_YAML = """
columns:
  deal_id: Opportunity ID
  created_date: Created Date
  closed_date: Close Date
  sales_rep_id: Opportunity Owner
  deal_stage: Stage
  deal_amount: Amount
  lead_source: Lead Source
  outcome: Stage
  industry: Industry
  region: Region
  product_type: Product
absent: []
outcome:
  won: [Closed Won]
  lost: [Closed Lost]
  others_are: open
"""


def salesforce_export(frame: pd.DataFrame) -> pd.DataFrame:
    """The demo deals as a Salesforce opportunity report: one Stage column, no cycle column, open deals
    at stages like Prospecting with an expected close date in the future."""
    is_open = frame["outcome"] == ""
    stage = np.where(frame["outcome"] == "Won", "Closed Won", np.where(frame["outcome"] == "Lost", "Closed Lost", ""))
    open_stage = frame["deal_stage"].map(SF_STAGES).to_numpy()
    open_stage[::5] = "Prospecting"
    stage = np.where(is_open, open_stage, stage)
    expected_close = frame["created_date"] + pd.Timedelta(days=90)
    close = frame["closed_date"].where(~is_open, expected_close)
    return pd.DataFrame({
        "Opportunity ID": frame["deal_id"],
        "Opportunity Name": "Deal " + frame["deal_id"],
        "Created Date": frame["created_date"].dt.strftime("%Y-%m-%d"),
        "Close Date": close.dt.strftime("%Y-%m-%d"),
        "Stage": stage,
        "Amount": frame["deal_amount"].map(lambda a: f"{a:,.2f}"),
        "Lead Source": frame["lead_source"],
        "Opportunity Owner": frame["sales_rep_id"],
        "Industry": frame["industry"],
        "Region": frame["region"],
        "Product": frame["product_type"],
    })


@pytest.fixture(scope="module")
def sf_csv(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("salesforce") / "opportunities.csv"
    salesforce_export(frame).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix, text", [(".toml", SF_TOML), (".yaml", SF_YAML)])
def test_salesforce_export_loads_through_a_mapping_file(sf_csv, tmp_path, frame, closed_frame, suffix, text):
    mapping_path = tmp_path / f"salesforce{suffix}"
    mapping_path.write_text(text)
    s = load_deals(sf_csv, ColumnMapping.from_file(mapping_path))
    assert s.report.set_aside == {}
    assert s.report.rows_read == 7000
    assert s.deals["deal_id"].tolist() == closed_frame["deal_id"].tolist()
    assert s.deals["outcome"].tolist() == closed_frame["outcome"].tolist()
    assert np.array_equal(s.deals["deal_amount"].to_numpy(), closed_frame["deal_amount"].to_numpy(dtype=float))
    # no cycle column: derived from the dates, and equal to the generator's cycle
    assert np.array_equal(s.deals["sales_cycle_days"].to_numpy(),
                          closed_frame["sales_cycle_days"].astype(float).to_numpy())
    # every other stage is open pipeline, and its expected close date is not a closed date
    assert len(s.open_deals) == int((frame["outcome"] == "").sum()) == 662
    assert s.open_deals["closed_date"].isna().all()
    assert (s.open_deals["outcome"] == "").all()
    assert {"Prospecting", "Qualification", "Negotiation/Review"} <= set(s.open_deals["deal_stage"].astype(str))
    assert s.values("region") == ("APAC", "Europe", "India", "North America")
    assert s.as_of == AS_OF


def test_toml_and_yaml_mappings_are_the_same_mapping(tmp_path):
    (tmp_path / "m.toml").write_text(SF_TOML)
    (tmp_path / "m.yml").write_text(SF_YAML)
    toml, yaml = ColumnMapping.from_file(tmp_path / "m.toml"), ColumnMapping.from_file(tmp_path / "m.yml")
    assert toml == yaml
    assert toml.won_values == ("closed won",) and toml.lost_values == ("closed lost",)
    assert toml.others_are_open is True
    assert toml.columns["outcome"] == toml.columns["deal_stage"] == "Stage"


def test_without_others_are_open_unlisted_stages_are_set_aside_as_unknown_outcomes(sf_csv, tmp_path):
    mapping = tmp_path / "strict.toml"
    mapping.write_text(SF_TOML.replace('others_are = "open"', 'others_are = "invalid"'))
    s = load_deals(sf_csv, ColumnMapping.from_file(mapping))
    assert s.report.set_aside == {"unknown_outcome": 662}
    assert len(s.open_deals) == 0 and len(s.deals) == 6338
    assert set(s.rejected["outcome"]) == {"Prospecting", *SF_STAGES.values()}


def test_mapped_column_missing_from_the_export_is_named_by_its_export_name(sf_csv, tmp_path):
    mapping = tmp_path / "wrong.toml"
    mapping.write_text(SF_TOML.replace('region = "Region"', 'region = "Billing Region"'))
    with pytest.raises(MissingColumnsError) as caught:
        load_deals(sf_csv, ColumnMapping.from_file(mapping))
    assert caught.value.missing == ["Billing Region"]
    assert "Opportunity ID" in caught.value.found and "Region" in caught.value.found
    assert "--mapping" not in str(caught.value)  # a mapping was given; no hint to use one


def test_absent_segment_column_is_allowed_when_declared(sf_csv, tmp_path, frame):
    no_industry = tmp_path / "no_industry.csv"
    pd.read_csv(sf_csv, dtype=str, keep_default_na=False).drop(columns=["Industry"]).to_csv(no_industry, index=False)
    mapping = tmp_path / "m.toml"
    text = SF_TOML.replace('industry = "Industry"\n', "")
    mapping.write_text(text.replace("absent = []", 'absent = ["industry"]'))
    s = load_deals(no_industry, ColumnMapping.from_file(mapping))
    assert s.report.set_aside == {}
    assert len(s.deals) == 6338 and len(s.open_deals) == 662
    assert "industry" not in s.dimensions and "industry" not in s.deals.columns
    assert "region" in s.dimensions and "size_band" in s.dimensions

    mapping.write_text(text)  # not declared, nor named by the mapping: absent all the same, and said so
    undeclared = load_deals(no_industry, ColumnMapping.from_file(mapping))
    assert undeclared.report.absent == ("industry",) and len(undeclared.deals) == 6338
    assert "industry" not in undeclared.dimensions


def test_an_export_without_some_segment_columns_is_answered_without_them(tmp_path, frame):
    path = tmp_path / "thin.csv"
    write_csv(frame.drop(columns=["lead_source", "sales_rep_id"]), path)
    full, thin = from_table(frame, source="full"), load_deals(path)
    assert thin.report.absent == ("lead_source", "sales_rep_id")
    assert "lead_source" not in thin.dimensions and "sales_rep_id" not in thin.dimensions
    assert len(thin.deals) == len(full.deals) and len(thin.open_deals) == len(full.open_deals)
    assert thin.report.set_aside == full.report.set_aside
    assert thin.won.sum() == full.won.sum()


def test_only_segment_columns_may_be_declared_absent():
    with pytest.raises(DataError, match="Only segment columns may be absent, not deal_amount"):
        ColumnMapping.from_dict({"absent": ["deal_amount"]})


def test_mapping_errors_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="unknown column"):
        ColumnMapping.from_dict({"columns": {"opportunity": "Opportunity ID"}})
    with pytest.raises(DataError, match="others_are must be 'open' or 'invalid'"):
        ColumnMapping.from_dict({"outcome": {"others_are": "maybe"}})
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[columns\ndeal_id = ")
    with pytest.raises(DataError, match="is not valid TOML"):
        ColumnMapping.from_file(bad_toml)
    with pytest.raises(DataError, match="Cannot read the mapping file"):
        ColumnMapping.from_file(tmp_path / "absent.toml")


def test_us_dates_load_through_a_date_format(frame, snapshot, tmp_path):
    us = frame.copy()
    for col in ("created_date", "closed_date"):
        us[col] = us[col].dt.strftime("%m/%d/%Y").fillna("")
    path = tmp_path / "us.csv"
    us.to_csv(path, index=False)
    mapping = tmp_path / "us.toml"
    mapping.write_text('[dates]\nformat = "%m/%d/%Y"\n')
    s = load_deals(path, ColumnMapping.from_file(mapping))
    assert s.report.set_aside == {}
    pd.testing.assert_series_equal(s.deals["created_date"], snapshot.deals["created_date"], check_dtype=False)
    pd.testing.assert_series_equal(s.deals["closed_date"], snapshot.deals["closed_date"], check_dtype=False)
    assert s.as_of == AS_OF


def test_a_date_format_is_strict_and_dayfirst_reads_day_month(tmp_path):
    rows = [row("D1", created="03/04/2024", closed="05/04/2024", cycle=""),
            row("D2", created="2024-04-03", closed="2024-04-05", cycle="")]
    path = write_lines(tmp_path / "dates.csv", rows)
    strict = load_deals(path, ColumnMapping.from_dict({"dates": {"format": "%m/%d/%Y"}}))
    assert strict.deals["created_date"].dt.date.tolist() == [dt.date(2024, 3, 4)]
    assert strict.report.set_aside == {"unparseable_created_date": 1}  # the ISO row does not fit the format
    dayfirst = load_deals(path, ColumnMapping.from_dict({"dates": {"dayfirst": True}}))
    assert dayfirst.deals["created_date"].dt.date.tolist() == [dt.date(2024, 4, 3)] * 2
    assert dayfirst.deals["sales_cycle_days"].tolist() == [2.0, 2.0]


# -- censoring and as-of ---------------------------------------------------------------------------------


def test_censoring_is_detected_when_the_extract_stops_taking_new_deals():
    cut = dt.date(2024, 5, 31)
    censored_frame = generate_deals(DealSpec(created_until=cut))
    s = from_table(censored_frame)
    assert censored_frame["created_date"].max().date() == cut
    assert s.report.created_range[1] == cut
    assert s.report.closed_range[1] == AS_OF  # (2024-07-15 - 2024-05-31) = 45 days > 30
    assert s.report.censored_after == cut


def test_a_created_cut_off_within_30_days_of_the_last_close_is_not_censoring():
    s = from_table(generate_deals(DealSpec(n_deals=3000, created_until=dt.date(2024, 6, 20))))
    assert s.report.closed_range[1] == AS_OF and s.report.created_range[1] == dt.date(2024, 6, 19)  # 26 days
    assert s.report.censored_after is None


def test_demo_data_is_not_censored(snapshot):
    assert snapshot.report.censored_after is None


def test_at_as_of_turns_later_closes_into_open_pipeline(snapshot, frame):
    as_of = dt.date(2024, 3, 31)
    ts = pd.Timestamp(as_of)
    past = snapshot.at(as_of)
    assert past.as_of == as_of
    closed_by_then = frame[(frame["outcome"] != "") & (frame["closed_date"] <= ts)]
    open_then = frame[(frame["created_date"] <= ts) & ((frame["outcome"] == "") | (frame["closed_date"] > ts))]
    assert len(past.deals) == len(closed_by_then) == 4981
    assert past.deals["closed_date"].max() <= ts
    assert sorted(past.open_deals["deal_id"]) == sorted(open_then["deal_id"])
    assert len(past.open_deals) == 677
    assert (past.open_deals["created_date"] <= ts).all()

    reopened = past.open_deals[past.open_deals["deal_id"].isin(snapshot.deals["deal_id"])]
    assert len(reopened) == 677 - 36  # 36 deals created by then are still open at the end of the data
    assert (reopened["outcome"] == "").all()
    assert reopened["closed_date"].isna().all()
    assert reopened["sales_cycle_days"].isna().all()
    # an open deal's cycle is not known yet, so it has no cycle band (as a loaded open deal has none)
    assert reopened["cycle_band"].isna().all()
    for dim in past.dimensions:
        assert past.open_deals[dim].dtype == snapshot.deals[dim].dtype, dim

    assert past.report is snapshot.report  # what was read does not change
    assert snapshot.as_of == AS_OF and len(snapshot.deals) == 6338  # the original is untouched


def test_load_deals_with_as_of_is_the_snapshot_at_that_date(csv_path, snapshot):
    as_of = dt.date(2024, 3, 31)
    loaded = load_deals(csv_path, as_of=as_of)
    at = snapshot.at(as_of)
    assert loaded.as_of == as_of
    pd.testing.assert_frame_equal(loaded.deals, at.deals)
    pd.testing.assert_frame_equal(loaded.open_deals, at.open_deals)


def test_a_latin_1_file_reads_cafe_as_cafe_and_an_undecodable_one_is_refused_by_line(tmp_path, demo_csv):
    from insights.synthetic import demo_spec, generate_deals

    frame = generate_deals(demo_spec())
    frame["region"] = frame["region"].replace({"Europe": "Café Europe"})
    latin = tmp_path / "latin.csv"
    frame.to_csv(latin, index=False, encoding="latin-1", date_format="%Y-%m-%d")
    snapshot = load_deals(latin)
    assert "Café Europe" in snapshot.values("region") and not any("\ufffd" in v for v in snapshot.values("region"))
    assert len(snapshot.deals) == len(demo_csv.deals)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(latin.read_bytes().replace("Café".encode("latin-1"), b"Caf\x81", 1))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0x81 on line \d+\) nor Windows-1252"):
        load_deals(broken)


def _dated(frame, formats):
    out = frame.copy()
    for column in ("created_date", "closed_date"):
        out[column] = [d.strftime(formats[k % len(formats)]) if pd.notna(d) else "" for k, d in enumerate(out[column])]
    return out


def test_day_first_dates_are_read_day_first_in_every_row_and_a_mix_is_refused(tmp_path, demo_csv):
    from insights.synthetic import demo_spec, generate_deals

    frame = generate_deals(demo_spec())
    day_first = tmp_path / "day_first.csv"
    _dated(frame, ["%d/%m/%Y", "%Y-%m-%d"]).to_csv(day_first, index=False)  # half ISO, half 04/05/2024 = 4 May
    snapshot = load_deals(day_first)
    assert snapshot.report.set_aside == demo_csv.report.set_aside and snapshot.as_of == demo_csv.as_of
    assert snapshot.deals["closed_date"].equals(demo_csv.deals["closed_date"])  # no day and month swapped
    mixed = tmp_path / "mixed.csv"
    _dated(frame, ["%d/%m/%Y", "%m/%d/%Y"]).to_csv(mixed, index=False)
    with pytest.raises(DataError, match="mixes day-first dates .* and month-first dates"):
        load_deals(mixed)


def test_a_stray_quote_costs_its_own_row_and_is_named(tmp_path, demo_csv):
    from insights.synthetic import demo_spec, generate_deals, write_csv

    path = tmp_path / "deals.csv"
    write_csv(generate_deals(demo_spec()), path)
    lines = path.read_text().split("\n")
    lines[500] = lines[500].replace(",", ',"', 1)  # a quote opened in line 501 and never closed
    path.write_text("\n".join(lines).rstrip("\n"))  # and no newline at the end
    snapshot = load_deals(path)
    assert snapshot.report.set_aside == {"unterminated_quote": 1} and snapshot.report.examples == {
        "unterminated_quote": [501]}
    assert snapshot.report.rows_read == 7000 and len(snapshot.deals) + len(snapshot.open_deals) == 6999
    from bot.core.commands import answer

    assert "a quote that never closes" in answer(snapshot, "/health").text


# -- a mapping that forgets a required column: the message names the line to add ------------------------

def salesforce_report(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a Salesforce opportunity report writes it: its own column names, amounts as text."""
    return pd.DataFrame({"Opportunity ID": frame.deal_id, "Created Date": frame.created_date,
                         "Close Date": frame.closed_date, "Amount": frame.deal_amount.map(lambda x: f"${x:,.2f}"),
                         "Billing Region": frame.region,
                         "Stage": frame.outcome.map({"Won": "Closed Won", "Lost": "Closed Lost"}).fillna("Proposal")})


FORGETFUL = ColumnMapping(columns={"deal_id": "Opportunity ID", "created_date": "Created Date",
                                   "closed_date": "Close Date", "outcome": "Stage"},
                          won_values=("Closed Won",), lost_values=("Closed Lost",), others_are_open=True)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_mapping_without_the_amount_says_which_line_to_add_and_lists_every_column(tmp_path, frame, suffix):
    path = tmp_path / f"report.{suffix}"
    report = salesforce_report(frame.head(50))
    report.to_csv(path, index=False) if suffix == "csv" else report.to_parquet(path, index=False)
    with pytest.raises(MissingColumnsError) as caught:
        load_deals(path, FORGETFUL)
    message = str(caught.value)
    assert "The deal data is missing 1 required column(s): deal_amount." in message
    # a Parquet file is read only in the columns the mapping names, yet the message lists them all
    assert "Columns found: Opportunity ID, Created Date, Close Date, Amount, Billing Region, Stage." in message
    assert 'The mapping names no column for deal_amount: add deal_amount = "your column" under [columns].' in message
    fixed = dataclasses.replace(FORGETFUL, columns={**FORGETFUL.columns, "deal_amount": "Amount"})
    snapshot = load_deals(path, fixed)
    assert snapshot.report.closed_deals + snapshot.report.open_deals == 50
