"""Deals from HubSpot: the CRM v3 API over urllib, synced incrementally into a local copy.

The same choices as salesforce.py (the standard library, a base URL a test can point at a stand-in,
retries and the local copy in crm.py), and the same end: a table for `insights.load.from_table`.

What is read, with a private app's token (HUBSPOT_ACCESS_TOKEN; scopes crm.objects.deals.read and, for
owner names, crm.objects.owners.read):
    GET  /crm/v3/pipelines/deals          every deal pipeline and its stages. A stage's metadata says
                                          whether it is closed (isClosed) and its probability: closed at
                                          1.0 is won, any other closed stage lost, the rest open. The
                                          stage labels, pipeline by pipeline in displayOrder, are the
                                          mapping's stage order.
    GET  /crm/v3/owners                   owner id -> name (HUBSPOT_OWNER_NAMES=false keeps the ids)
    POST /crm/v3/objects/deals/search     the deals, sorted by hs_lastmodifieddate, 100 a page
    GET  /crm/v3/objects/deals?archived=true   ids of deleted (archived) deals, on incremental syncs

Why search rather than GET /crm/v3/objects/deals for the first sync too: the list endpoint cannot filter,
so it could neither push DEALS_SINCE into the request nor fetch only what changed; one code path serves
both. Search stops at 10,000 results per query (it refuses `after` at 10,000): the sync then asks again
from the newest hs_lastmodifieddate it has seen, so any number of deals is read. Search results are
indexed a little after a change, so an incremental sync asks from HUBSPOT_SEARCH_LAG_SECONDS (default
300) before the newest change it holds; what it fetches twice is simply written again.

Deleted deals: HubSpot archives them, and search never returns archived deals, so an incremental sync
also lists the archived deals' ids and removes them from the local copy (a full sync starts empty).

Settings (environment, HUBSPOT_*; passed in as `options`, lower-case keys without the prefix):
    access_token            the private app's token (required; never logged or shown)
    base_url                default https://api.hubapi.com
    region_property, product_property, industry_property, lead_source_property
                            deal properties (internal names) for those dimensions; unset: absent
    pipeline                only deals of this pipeline (its id or label); default: every pipeline
    owner_names             true (default): owner names from /crm/v3/owners; false: owner ids
    page_size (100), retries (3), timeout (30 s), search_lag_seconds (300), search_cap (10000)
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.parse
import urllib.request

import pandas as pd

from ..load import ColumnMapping, DataError
from ..mapping import FALSE_FLAGS
from .crm import LocalCopy, Refused, Unavailable, crm_mapping, number, send_json, sync_or_local_copy

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEALS, PIPELINES, OWNERS = "hubspot:deals", "hubspot:pipelines", "hubspot:owners"
KEY, STAMP = "hs_object_id", "hs_lastmodifieddate"
BASE_PROPERTIES = (KEY, "createdate", "closedate", "dealstage", "pipeline", "amount", "hubspot_owner_id", STAMP)
DIMENSION_OPTIONS = (("region", "region_property"), ("product_type", "product_property"),
                     ("industry", "industry_property"), ("lead_source", "lead_source_property"))
NO_OWNER = "(no owner)"


class HubSpotError(DataError):
    """HubSpot could not be read (the message says why; never the token)."""


def describe(options: dict) -> str:
    parsed = urllib.parse.urlsplit(options.get("base_url") or DEFAULT_BASE_URL)
    return f"hubspot {parsed.scheme}://{parsed.hostname}{f':{parsed.port}' if parsed.port else ''} deals"


def _chosen(options: dict, key: str) -> str | None:
    value = (options.get(key) or "").strip()
    return value if value and value.lower() != "none" else None


def properties_for(options: dict) -> list[str]:
    extra = [_chosen(options, key) for _, key in DIMENSION_OPTIONS]
    return list(dict.fromkeys(list(BASE_PROPERTIES) + [p for p in extra if p]))


def default_mapping(options: dict, mapping: ColumnMapping | None, stage_order: tuple[str, ...] = ()) -> ColumnMapping:
    """The table cached_frame makes, onto the canonical schema; a user's mapping file overrides any of it."""
    columns = {"deal_id": KEY, "created_date": "createdate", "closed_date": "closedate", "deal_stage": "dealstage",
               "outcome": "is_won", "is_closed": "is_closed", "deal_amount": "amount",
               "sales_rep_id": "hubspot_owner_id"}
    absent = []
    for canonical, key in DIMENSION_OPTIONS:
        prop = _chosen(options, key)
        if prop:
            columns[canonical] = prop
        else:
            absent.append(canonical)
    return crm_mapping(columns, absent, mapping, stage_order)


class Client:
    """A minimal HubSpot CRM client: bearer token, JSON requests with the retries of crm.send_json."""

    def __init__(self, options: dict, sleep=time.sleep):
        self.options = options
        self.base_url = (options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.retries = number(options, "retries", 3, "HUBSPOT_", 1, 20)
        self.timeout = number(options, "timeout", 30, "HUBSPOT_", 1, 600, whole=False)
        self.sleep = sleep
        if not options.get("access_token"):
            raise HubSpotError("No HubSpot token: set HUBSPOT_ACCESS_TOKEN to a private app's access token "
                               "(scopes crm.objects.deals.read and crm.objects.owners.read).")

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Accept": "application/json", "Content-Type": "application/json",
            "Authorization": f"Bearer {self.options['access_token']}"})
        try:
            return send_json(request, self.retries, self.timeout, self.sleep)
        except Refused as exc:
            if exc.status == 401:
                raise HubSpotError("HubSpot refused the token (HTTP 401): set HUBSPOT_ACCESS_TOKEN to a valid "
                                   "private app access token.") from None
            if exc.status == 403:
                raise HubSpotError(f"HubSpot refused access (HTTP 403): {exc.detail}. Give the private app "
                                   "behind HUBSPOT_ACCESS_TOKEN the scopes crm.objects.deals.read and "
                                   "crm.objects.owners.read (or set HUBSPOT_OWNER_NAMES=false).") from None
            raise HubSpotError(f"HubSpot refused the request {method} {path.split('?')[0]} (HTTP {exc.status}): "
                               f"{exc.detail}") from None
        except Unavailable as exc:
            raise HubSpotError(f"HubSpot is unavailable ({exc.last}) after {exc.attempts} attempts.") from None

    def listing(self, path: str, params: dict):
        """Every page of a GET listing, following paging.next.after: yields each page's results."""
        params = dict(params)
        while True:
            page = self.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
            yield page.get("results", [])
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return
            params["after"] = after


def stage_table(pipelines: list[dict], only: str | None) -> list[dict]:
    """One row per stage: id, label, pipeline, open/won/lost, in (pipeline, stage) displayOrder."""
    rows = []
    ordered = sorted(pipelines, key=lambda p: (p.get("displayOrder", 0), p.get("label") or ""))
    for p_rank, pipeline in enumerate(ordered):
        if only and only not in (pipeline.get("id"), pipeline.get("label")):
            continue
        for s_rank, stage in enumerate(sorted(pipeline.get("stages", []), key=lambda s: s.get("displayOrder", 0))):
            meta = stage.get("metadata") or {}
            closed = str(meta.get("isClosed", "false")).lower() == "true"
            try:
                probability = float(meta.get("probability"))
            except (TypeError, ValueError):
                probability = None
            rows.append({"id": f"{pipeline['id']}/{stage['id']}", "stage": stage["id"], "label": stage.get("label") or stage["id"],
                         "pipeline": pipeline["id"], "rank": p_rank * 1000 + s_rank, "closed": closed,
                         "won": closed and probability == 1.0})
    if only and not rows:
        raise HubSpotError(f"HUBSPOT_PIPELINE {only!r} is neither the id nor the label of a deal pipeline; the "
                           f"pipelines are {', '.join(repr(p.get('label')) for p in ordered) or 'none'}.")
    return rows


def _ms(stamp: str | dt.date) -> int:
    return int(pd.Timestamp(stamp).tz_localize("UTC").timestamp() * 1000) if isinstance(stamp, dt.date) \
        else int(pd.Timestamp(stamp).tz_convert("UTC").timestamp() * 1000)


def search_body(properties: list[str], start: str | None, since: dt.date | None, pipeline_ids: list[str] | None,
                limit: int, after: str | None) -> dict:
    """Deals modified from `start` (if any), created or closed from `since` (if any: a full sync's window)."""
    common = [{"propertyName": STAMP, "operator": "GTE", "value": str(_ms(start))}] if start else []
    if pipeline_ids is not None:
        common.append({"propertyName": "pipeline", "operator": "IN", "values": pipeline_ids})
    if since:  # created or closed since: two filter groups, which HubSpot ORs
        cut = str(_ms(since))
        groups = [{"filters": common + [{"propertyName": p, "operator": "GTE", "value": cut}]}
                  for p in ("createdate", "closedate")]
    else:
        groups = [{"filters": common}] if common else []
    body = {"filterGroups": groups, "sorts": [{"propertyName": STAMP, "direction": "ASCENDING"}],
            "properties": properties, "limit": limit}
    if after:
        body["after"] = after
    return body


def sync(client: Client, cache: LocalCopy, properties: list[str], since: dt.date | None) -> dict:
    """Bring the local copy up to date; returns {"fetched": n, "deleted": n, "full": bool, "queries": n}."""
    options = client.options
    stages = stage_table(client.request("GET", "/crm/v3/pipelines/deals").get("results", []),
                         _chosen(options, "pipeline"))
    cache.reset(PIPELINES, ["stages"])
    cache.apply(PIPELINES, stages, [], None, key="id", stamp="-")
    if str(options.get("owner_names", "true")).lower() not in FALSE_FLAGS:
        owners = [{"id": str(o["id"]), "name": _owner_name(o)}
                  for archived in ("false", "true")
                  for page in client.listing("/crm/v3/owners", {"limit": 100, "archived": archived}) for o in page]
        cache.reset(OWNERS, ["names"])
        cache.apply(OWNERS, owners, [], None, key="id", stamp="-")
    state = cache.state(DEALS)
    full = state is None or list(state.get("fields") or []) != properties
    if full:
        cache.reset(DEALS, properties)
    watermark = None if full else state.get("watermark")
    lag = number(options, "search_lag_seconds", 300, "HUBSPOT_", 0, whole=False)
    start = (pd.Timestamp(watermark) - pd.Timedelta(seconds=lag)).isoformat() if watermark else None
    pipeline_ids = sorted({s["pipeline"] for s in stages}) if _chosen(options, "pipeline") else None
    limit = number(options, "page_size", 100, "HUBSPOT_", 1, 200)  # search's most a page is 200
    cap = number(options, "search_cap", 10_000, "HUBSPOT_", limit)
    fetched = queries = 0
    while True:  # one search per 10,000 results, each from the newest change the one before saw
        queries += 1
        after, capped, first_stamp = None, False, None
        while True:
            page = client.request("POST", "/crm/v3/objects/deals/search",
                                  search_body(properties, start, since if full else None, pipeline_ids, limit,
                                              after))
            rows = [{p: (r.get("properties") or {}).get(p) for p in properties} | {KEY: str(r["id"])}
                    for r in page.get("results", [])]
            for row in rows:
                stamp = row.get(STAMP)
                first_stamp = first_stamp or stamp
                if stamp and (watermark is None or _ms(stamp) > _ms(watermark)):
                    watermark = stamp
            cache.apply(DEALS, rows, [], watermark, key=KEY, stamp=STAMP)  # page by page, as Salesforce's
            fetched += len(rows)
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                break
            if int(after) >= cap:
                capped = True
                break
        if not capped:
            break
        if first_stamp is not None and _ms(first_stamp) == _ms(watermark):
            raise HubSpotError(f"More than {cap:,} HubSpot deals share the last-modified time {watermark}: "
                               "the search API cannot page through them.")
        start = watermark
    deleted = 0
    if not full:
        gone = [str(r["id"]) for page in client.listing("/crm/v3/objects/deals", {
            "archived": "true", "limit": 100, "properties": KEY}) for r in page]
        cache.apply(DEALS, [], gone, watermark, key=KEY, stamp=STAMP)
        deleted = len(gone)
    log.info("HubSpot sync: %d deals fetched in %d searches, %d archived ids (%s)", fetched, queries, deleted,
             "full" if full else "incremental")
    return {"fetched": fetched, "deleted": deleted, "full": full, "queries": queries}


def _owner_name(owner: dict) -> str:
    name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
    return name or owner.get("email") or str(owner["id"])


def cached_frame(cache: LocalCopy, properties: list[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The cached deals as a table (stage labels, open/won flags from the pipelines, owner names), and
    the stage order the pipelines give."""
    stages = sorted(cache.records(PIPELINES), key=lambda s: s["rank"])
    by_id = {(s["pipeline"], s["stage"]): s for s in stages}
    owners = {o["id"]: o["name"] for o in cache.records(OWNERS)}
    records = cache.records(DEALS)
    frame = pd.DataFrame.from_records(records, columns=properties) if records else pd.DataFrame(columns=properties)
    frame = frame.sort_values(KEY, kind="stable").reset_index(drop=True)
    stage = [by_id.get((p, s)) for p, s in zip(frame["pipeline"], frame["dealstage"])]
    # a stage no pipeline has (or one outside HUBSPOT_PIPELINE): neither open nor closed, so set aside and counted
    frame["is_closed"] = [("true" if s["closed"] else "false") if s else "" for s in stage]
    frame["is_won"] = [("true" if s["won"] else "false") if s else "" for s in stage]
    frame["dealstage"] = [s["label"] if s else d for s, d in zip(stage, frame["dealstage"])]
    owner = frame["hubspot_owner_id"]
    frame["hubspot_owner_id"] = [owners.get(str(o), str(o)) if o not in (None, "") else NO_OWNER for o in owner]
    for column in ("createdate", "closedate"):  # UTC timestamps: the date is the first ten characters
        frame[column] = frame[column].astype("string").str.slice(0, 10).fillna("")
    return frame, tuple(dict.fromkeys(s["label"] for s in stages))


def read_hubspot(spec, mapping: ColumnMapping | None, cache: LocalCopy | None, client: Client | None = None):
    """Sync, then the cached deals as a table and the mapping that reads them."""
    if cache is None:
        raise DataError("The HubSpot source needs the state store for its local copy (DATABASE_URL).")
    options = spec.options
    properties = properties_for(options)
    client = client or Client(options)

    def stale():
        from ..load import from_table

        frame, order = cached_frame(cache, properties)
        return from_table(frame, default_mapping(options, mapping, order), spec.describe() + " (local copy)")

    sync_or_local_copy(lambda: sync(client, cache, properties, spec.since_date()), cache, DEALS, properties,
                       stale, "deals", HubSpotError)
    frame, order = cached_frame(cache, properties)
    return frame, default_mapping(options, mapping, order)
