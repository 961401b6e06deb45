"""The canonical deal schema: column names, segment dimensions, outcome values, bands."""
from __future__ import annotations

CANONICAL_COLUMNS = (
    "deal_id",
    "created_date",
    "closed_date",
    "sales_rep_id",
    "industry",
    "region",
    "product_type",
    "lead_source",
    "deal_stage",
    "deal_amount",
    "sales_cycle_days",
    "outcome",
)

# Segment dimensions read from the data, in the order replies list them.
SOURCE_DIMENSIONS = ("region", "industry", "product_type", "lead_source", "deal_stage", "sales_rep_id")
# Dimensions the loader derives from numbers, so they can be filtered and grouped like the others.
BANDED_DIMENSIONS = ("size_band", "cycle_band")
DIMENSIONS = SOURCE_DIMENSIONS + BANDED_DIMENSIONS

# Columns that may be missing from an export: the cycle is derived from the dates.
DERIVABLE_COLUMNS = ("sales_cycle_days",)

DIMENSION_LABELS = {
    "region": "region",
    "industry": "industry",
    "product_type": "product",
    "lead_source": "lead source",
    "deal_stage": "last stage",
    "sales_rep_id": "rep",
    "size_band": "deal size",
    "cycle_band": "cycle length",
}

# Words a user may type for a dimension (after `by`, or before `=`).
DIMENSION_ALIASES = {
    "region": "region", "regions": "region", "geo": "region",
    "industry": "industry", "industries": "industry", "vertical": "industry",
    "product": "product_type", "products": "product_type", "product_type": "product_type",
    "lead_source": "lead_source", "source": "lead_source", "sources": "lead_source",
    "lead": "lead_source", "leadsource": "lead_source", "channel": "lead_source",
    "stage": "deal_stage", "stages": "deal_stage", "deal_stage": "deal_stage",
    "rep": "sales_rep_id", "reps": "sales_rep_id", "sales_rep_id": "sales_rep_id",
    "owner": "sales_rep_id", "salesrep": "sales_rep_id",
    "size": "size_band", "size_band": "size_band", "amount": "size_band", "deal_size": "size_band",
    "cycle": "cycle_band", "cycle_band": "cycle_band", "cycle_length": "cycle_band",
}

WON, LOST = "Won", "Lost"
OPEN_OUTCOMES = ("", "open")  # compared lower-case; a blank outcome is open pipeline

# Funnel order of `deal_stage` (the last stage a deal reached). Unknown stages sort after these.
STAGE_ORDER = ("Qualified", "Demo", "Proposal", "Negotiation", "Closed")

# Bands: (upper bound exclusive, label). Fixed edges so a band means the same thing on any data.
SIZE_BANDS = ((10_000, "<10k"), (25_000, "10k-25k"), (50_000, "25k-50k"), (100_000, "50k-100k"), (float("inf"), "100k+"))
CYCLE_BANDS = ((30, "<30d"), (60, "30-60d"), (90, "60-90d"), (float("inf"), "90d+"))
