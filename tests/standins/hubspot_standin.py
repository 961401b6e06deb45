"""A local stand-in for the HubSpot CRM v3 endpoints the bot uses, over real HTTP on 127.0.0.1.

    GET  /crm/v3/pipelines/deals                 the deal pipelines and their stages (metadata isClosed, probability)
    GET  /crm/v3/owners?limit&after&archived     owners, paged by `after`
    POST /crm/v3/objects/deals/search            filterGroups (ORed groups of ANDed GTE / IN filters), sorts,
                                                 properties, limit, after; at most `search_cap` results a query
                                                 (HubSpot's 10,000: `after` at the cap is a 400, as HubSpot does)
    GET  /crm/v3/objects/deals?archived=true     archived (deleted) deals, paged by `after`

Every request needs `Authorization: Bearer <token>` (else 401 with HubSpot's error body). Failures can
be planted (`fail_next`: a status, with Retry-After on 429). Every request is logged for the tests to read.
"""
from __future__ import annotations

import json
import urllib.parse

import pandas as pd
from standin_http import JsonStandIn

PIPELINE = {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False, "stages": [
    {"id": "closedlost", "label": "Closed Lost", "displayOrder": 6, "metadata": {"isClosed": "true", "probability": "0.0"}},
    {"id": "qualifiedtobuy", "label": "Qualified", "displayOrder": 1, "metadata": {"isClosed": "false", "probability": "0.2"}},
    {"id": "presentationscheduled", "label": "Demo", "displayOrder": 2, "metadata": {"isClosed": "false", "probability": "0.4"}},
    {"id": "proposal", "label": "Proposal", "displayOrder": 3, "metadata": {"isClosed": "false", "probability": "0.6"}},
    {"id": "contractsent", "label": "Negotiation", "displayOrder": 4, "metadata": {"isClosed": "false", "probability": "0.8"}},
    {"id": "closedwon", "label": "Closed Won", "displayOrder": 5, "metadata": {"isClosed": "true", "probability": "1.0"}},
]}
STAGE_IDS = {s["label"]: s["id"] for s in PIPELINE["stages"]}


class HubSpotStandIn(JsonStandIn):
    def __init__(self, token="pat-na1-standin-0000", page_cap=100, search_cap=10_000):
        super().__init__()
        self.token, self.page_cap, self.search_cap = token, page_cap, search_cap
        self.deals: dict[str, dict] = {}  # id -> properties (hs_lastmodifieddate included)
        self.archived: set[str] = set()
        self.owners: list[dict] = []
        self.pipelines = [PIPELINE]
        self.searches: list[dict] = []  # request bodies
        self.served: list[int] = []  # deals per search page
        self._fail: list[tuple[str, int, str | None]] = []

    # -- planting -----------------------------------------------------------------------------------
    def put(self, deals: list[dict]) -> None:
        with self.lock:
            for d in deals:
                self.deals[d["hs_object_id"]] = dict(d)
                self.archived.discard(d["hs_object_id"])

    def archive(self, deal_id: str) -> None:
        with self.lock:
            self.deals.pop(deal_id)
            self.archived.add(deal_id)

    def fail_next(self, fragment: str, status: int = 503, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self._fail.extend([(fragment, status, retry_after)] * times)

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear(), self.searches.clear(), self.served.clear()

    # -- HTTP ---------------------------------------------------------------------------------------
    def _error(self, handler, status: int, message: str, category: str, headers=None) -> None:
        self._reply(handler, status, {"status": "error", "message": message, "correlationId": "0000-standin",
                                      "category": category}, headers)

    def _handle(self, handler, method: str) -> None:
        path = handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}") if length else {}
        with self.lock:
            self.log.append((method, path))
            for k, (fragment, status, retry_after) in enumerate(self._fail):
                if fragment in path:
                    del self._fail[k]
                    if status == 429:
                        return self._error(handler, 429, "You have reached your secondly limit.", "RATE_LIMITS",
                                           {"Retry-After": retry_after} if retry_after else None)
                    return self._error(handler, status, "Service unavailable", "INTERNAL_ERROR")
        if handler.headers.get("Authorization", "") != f"Bearer {self.token}":
            return self._error(handler, 401, "Authentication credentials not found. This API supports OAuth 2.0 "
                               "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                               "INVALID_AUTHENTICATION")
        parsed = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if method == "GET" and parsed.path == "/crm/v3/pipelines/deals":
            return self._reply(handler, 200, {"results": self.pipelines})
        if method == "GET" and parsed.path == "/crm/v3/owners":
            archived = query.get("archived", "false") == "true"
            return self._listing(handler, [o for o in self.owners if o.get("archived", False) == archived], query)
        if method == "POST" and parsed.path == "/crm/v3/objects/deals/search":
            return self._search(handler, body)
        if method == "GET" and parsed.path == "/crm/v3/objects/deals" and query.get("archived") == "true":
            with self.lock:
                gone = [{"id": i, "properties": {"hs_object_id": i}, "archived": True,
                         "archivedAt": "2024-07-20T08:00:00.000Z"} for i in sorted(self.archived)]
            return self._listing(handler, gone, query)
        return self._error(handler, 404, "not here", "OBJECT_NOT_FOUND")

    def _listing(self, handler, items: list[dict], query: dict) -> None:
        limit = min(int(query.get("limit", 100)), self.page_cap)
        start = int(query.get("after", 0))
        body = {"results": items[start:start + limit]}
        if start + limit < len(items):
            body["paging"] = {"next": {"after": str(start + limit)}}
        self._reply(handler, 200, body)

    def _search(self, handler, body: dict) -> None:
        with self.lock:
            self.searches.append(body)
            deals = list(self.deals.values())
        after = int(body.get("after", 0))
        if after >= self.search_cap:
            return self._error(handler, 400, f"There was a problem with the request: paging past {self.search_cap} "
                               "results is not supported", "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []
        if groups:
            deals = [d for d in deals if any(all(self._passes(d, f) for f in g["filters"]) for g in groups)]
        for sort in reversed(body.get("sorts") or []):
            deals.sort(key=lambda d: (self._ms(d.get(sort["propertyName"])) or 0, int(d["hs_object_id"])),
                       reverse=sort.get("direction") == "DESCENDING")
        total = len(deals)
        deals = deals[:self.search_cap]
        limit = min(int(body.get("limit", 10)), self.page_cap)
        page = deals[after:after + limit]
        reply = {"total": total, "results": [
            {"id": d["hs_object_id"], "properties": {p: d.get(p) for p in body.get("properties", [])},
             "createdAt": d["createdate"], "updatedAt": d["hs_lastmodifieddate"], "archived": False} for d in page]}
        if after + limit < total:  # as HubSpot: a next page even past the cap, refused when asked for
            reply["paging"] = {"next": {"after": str(after + limit)}}
        with self.lock:
            self.served.append(len(page))
        self._reply(handler, 200, reply)

    @staticmethod
    def _ms(value) -> int | None:
        if value in (None, ""):
            return None
        return int(pd.Timestamp(value).tz_convert("UTC").timestamp() * 1000)

    def _passes(self, deal: dict, f: dict) -> bool:
        value = deal.get(f["propertyName"])
        if f["operator"] == "IN":
            return value in f["values"]
        assert f["operator"] == "GTE", f
        if f["propertyName"] in ("createdate", "closedate", "hs_lastmodifieddate"):
            ms = self._ms(value)
            return ms is not None and ms >= int(f["value"])
        return value is not None and float(value) >= float(f["value"])


def hubspot_deals(frame: pd.DataFrame, modstamp: str = "2024-07-16T02:00:00.000Z", owners: dict | None = None):
    """The demo deals as HubSpot deals: open ones at their stage with an expected close date, closed ones
    at Closed Won / Closed Lost; each last modified one second after the one before, from `modstamp`.
    `owners` maps a rep id to an owner id (the rest have no owner)."""
    deals = []
    start = pd.Timestamp(modstamp)
    for k, row in enumerate(frame.itertuples(index=False)):
        is_open = row.outcome == ""
        stage = row.deal_stage if is_open else ("Closed Won" if row.outcome == "Won" else "Closed Lost")
        close = row.created_date + pd.Timedelta(days=120) if is_open else row.closed_date
        deals.append({
            "hs_object_id": str(10_000_000 + int(row.deal_id[1:])),
            "createdate": row.created_date.strftime("%Y-%m-%dT09:30:00.000Z"),
            "closedate": close.strftime("%Y-%m-%dT00:00:00Z"),
            "dealstage": STAGE_IDS[stage], "pipeline": "default",
            "amount": str(row.deal_amount),
            "hubspot_owner_id": (owners or {}).get(row.sales_rep_id),
            "lead_source": row.lead_source, "industry": row.industry, "region": row.region,
            "product_family": row.product_type,
            "hs_lastmodifieddate": (start + pd.Timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        })
    return deals


def owner_records(reps) -> tuple[list[dict], dict]:
    """HubSpot owners for the demo reps (one of them archived: a rep who left), and rep id -> owner id."""
    owners, ids = [], {}
    for k, rep in enumerate(sorted(reps)):
        owner_id = str(500 + k)
        ids[rep] = owner_id
        owners.append({"id": owner_id, "email": f"{rep}@example.com", "firstName": rep, "lastName": "",
                       "archived": k == 0})
    return owners, ids
