"""Deals from Salesforce: Opportunities by SOQL over the REST API, synced incrementally into a local cache.

Why the standard library (urllib) and not simple-salesforce: the bot needs two endpoints (OAuth token
and queryAll with its nextRecordsUrl pages), its own handling of an expired session (re-authenticate
once, carry on from the same page) and of 5xx/429 (a few retries, then keep the cache), and a base
URL a test can point at a local stand-in. simple-salesforce would bring requests, zeep, pyjwt and
cryptography for that, and would still leave the 401 re-authentication and the paging to us.
The JWT bearer flow alone needs `pyjwt[crypto]` (in requirements.txt; imported only for that flow).

Settings (environment, SALESFORCE_*; passed in as `options`, lower-case keys without the prefix):
    instance_url         https://yourorg.my.salesforce.com (required with access_token; else from the token reply)
    login_url            token endpoint host, default https://login.salesforce.com (test.salesforce.com for sandboxes)
    client_id, client_secret          the connected app's client-credentials flow
    client_id, username, private_key_file   the JWT bearer flow (pyjwt[crypto]; a PEM RSA private key)
    access_token         a ready session token (no refresh when it expires)
    api_version          default v61.0
    region_field, product_field       Opportunity fields for region and product (none: absent)
    page_size            records per page asked for (Sforce-Query-Options batchSize), default 2000
    retries              attempts on 5xx / 429 / network errors before giving up, default 3
    timeout              seconds per request, default 30

Sync: the first one reads every Opportunity created or closed inside DEALS_SINCE; each later one reads
only records whose SystemModstamp is at or after the newest one cached (queryAll, so deletions are
seen and removed). The cache (`SalesforceCache`, kept by the bot in its state store) is what the bot
answers from; when Salesforce is down, a refresh fails (the data alert fires) and the cache still answers.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.parse
import urllib.request

import pandas as pd

from ..load import ColumnMapping, DataError
from .crm import LocalCopy, Refused, Unavailable, crm_mapping, number, send_json, sync_or_local_copy

log = logging.getLogger(__name__)

BASE_FIELDS = ("Id", "CreatedDate", "CloseDate", "StageName", "IsClosed", "IsWon", "Amount", "LeadSource",
               "Owner.Name", "Account.Industry")
DEFAULT_REGION_FIELD = "Account.BillingCountry"
DEFAULT_PRODUCT_FIELD = "Type"
DEFAULT_VERSION = "v61.0"
CACHE_NAME = "salesforce:Opportunity"


class SalesforceError(DataError):
    """Salesforce could not be read (the message says why; never a token or secret)."""


SalesforceCache = LocalCopy  # the local copy's interface (bot.store.SourceCache implements it)


def describe(options: dict) -> str:
    where = options.get("instance_url") or options.get("login_url") or "https://login.salesforce.com"
    parsed = urllib.parse.urlsplit(where)
    return f"salesforce {parsed.scheme}://{parsed.hostname}{f':{parsed.port}' if parsed.port else ''} Opportunity"


def fields_for(options: dict) -> list[str]:
    fields = list(BASE_FIELDS)
    for key, default in (("region_field", DEFAULT_REGION_FIELD), ("product_field", DEFAULT_PRODUCT_FIELD)):
        value = options.get(key, default)
        if value and value.lower() != "none":
            fields.append(value)
    return fields


def default_mapping(options: dict, mapping: ColumnMapping | None) -> ColumnMapping:
    """Opportunity fields onto the canonical schema; a user's mapping file overrides any of it."""
    columns = {"deal_id": "Id", "created_date": "CreatedDate", "closed_date": "CloseDate", "deal_stage": "StageName",
               "outcome": "IsWon", "is_closed": "IsClosed", "deal_amount": "Amount", "lead_source": "LeadSource",
               "sales_rep_id": "Owner.Name", "industry": "Account.Industry"}
    absent = []
    for canonical, key, default in (("region", "region_field", DEFAULT_REGION_FIELD),
                                    ("product_type", "product_field", DEFAULT_PRODUCT_FIELD)):
        value = options.get(key, default)
        if value and value.lower() != "none":
            columns[canonical] = value
        else:
            absent.append(canonical)
    return crm_mapping(columns, absent, mapping)


class Client:
    """A minimal Salesforce REST client: OAuth token, queryAll pages, one re-authentication on 401."""

    def __init__(self, options: dict, sleep=time.sleep):
        self.options = options
        self.version = options.get("api_version", DEFAULT_VERSION)
        if not self.version.startswith("v"):
            self.version = "v" + self.version
        self.retries = number(options, "retries", 3, "SALESFORCE_", 1, 20)
        self.timeout = number(options, "timeout", 30, "SALESFORCE_", 1, 600, whole=False)
        self.page_size = number(options, "page_size", 2000, "SALESFORCE_", 200, 2000)  # batchSize's range
        self.sleep = sleep
        self.token: str | None = options.get("access_token")
        self.instance_url: str | None = (options.get("instance_url") or "").rstrip("/") or None
        self.logins = 0

    # -- authentication ------------------------------------------------------------------------------
    def can_login(self) -> bool:
        o = self.options
        return bool(o.get("client_id") and (o.get("client_secret") or (o.get("username") and o.get("private_key_file"))))

    def login(self) -> None:
        o = self.options
        if not self.can_login():
            if self.token:
                raise SalesforceError("The Salesforce access token (SALESFORCE_ACCESS_TOKEN) has expired or was "
                                      "revoked: set a new one, or a connected app's SALESFORCE_CLIENT_ID and "
                                      "SALESFORCE_CLIENT_SECRET so the bot can renew its session.")
            raise SalesforceError("No Salesforce credentials: set SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET "
                                  "(client-credentials flow), SALESFORCE_CLIENT_ID, SALESFORCE_USERNAME and "
                                  "SALESFORCE_PRIVATE_KEY_FILE (JWT flow), or SALESFORCE_ACCESS_TOKEN with "
                                  "SALESFORCE_INSTANCE_URL.")
        login_url = (o.get("login_url") or o.get("instance_url") or "https://login.salesforce.com").rstrip("/")
        if o.get("client_secret"):
            form = {"grant_type": "client_credentials", "client_id": o["client_id"], "client_secret": o["client_secret"]}
        else:
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self._assertion(login_url)}
        body = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(f"{login_url}/services/oauth2/token", data=body, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        try:
            reply = self._send(request, auth=False)
        except SalesforceError as exc:
            if o.get("client_secret") or "invalid_grant" not in str(exc):
                raise
            raise SalesforceError(f"Salesforce refused the JWT bearer login ({str(exc).split(': ', 1)[-1]}): check "
                                  "that SALESFORCE_PRIVATE_KEY_FILE holds the private key of the certificate "
                                  "uploaded to the connected app SALESFORCE_CLIENT_ID, that SALESFORCE_USERNAME "
                                  "is a user pre-authorized for that app, that SALESFORCE_LOGIN_URL is right, "
                                  "and that this machine's clock is correct.") from None
        self.token = reply.get("access_token")
        self.instance_url = (reply.get("instance_url") or self.instance_url or login_url).rstrip("/")
        self.logins += 1
        if not self.token:
            raise SalesforceError("Salesforce's token endpoint answered without an access token.")

    def _assertion(self, login_url: str) -> str:
        try:
            import jwt  # pyjwt[crypto], only for this flow
        except ImportError:
            raise SalesforceError("The JWT flow needs the optional package pyjwt[crypto]: pip install 'pyjwt[crypto]'.")
        o = self.options
        try:
            with open(o["private_key_file"], "rb") as f:
                key = f.read()
        except OSError as exc:
            raise SalesforceError(f"SALESFORCE_PRIVATE_KEY_FILE {o['private_key_file']} cannot be read: "
                                  f"{exc.strerror or exc}.") from None
        audience = "https://test.salesforce.com" if "test.salesforce.com" in login_url else login_url
        claims = {"iss": o["client_id"], "sub": o["username"], "aud": audience, "exp": int(time.time()) + 180}
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):  # not a PEM RSA private key; never quote the key
            raise SalesforceError(f"SALESFORCE_PRIVATE_KEY_FILE {o['private_key_file']} is not an RSA private key "
                                  "in PEM form (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----).") \
                from None

    # -- requests --------------------------------------------------------------------------------------
    def _send(self, request: urllib.request.Request, auth: bool = True) -> dict:
        """One request with retries on 5xx, 429 and network errors; a 401 raises _Expired."""
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            return send_json(request, self.retries, self.timeout, self.sleep)
        except Refused as exc:
            if exc.status == 401 and auth:
                raise _Expired()
            raise SalesforceError(f"Salesforce refused the request (HTTP {exc.status}): {exc.detail}")
        except Unavailable as exc:
            raise SalesforceError(f"Salesforce is unavailable ({exc.last}) after {exc.attempts} attempts.")

    def get(self, path: str) -> dict:
        """GET an API path; an expired session is renewed once and the same request sent again."""
        if not self.token or not self.instance_url:
            self.login()
        for renewed in (False, True):
            request = urllib.request.Request(self.instance_url + path, method="GET", headers={
                "Accept": "application/json", "Sforce-Query-Options": f"batchSize={self.page_size}"})
            try:
                return self._send(request)
            except _Expired:
                if renewed:
                    raise SalesforceError("Salesforce rejected a freshly renewed session (HTTP 401).")
                log.info("Salesforce session expired; logging in again")
                self.login()
        raise AssertionError("unreachable")

    def query_all(self, soql: str):
        """Every page of a queryAll, following nextRecordsUrl: yields each page's records."""
        page = self.get(f"/services/data/{self.version}/queryAll?" + urllib.parse.urlencode({"q": soql}))
        while True:
            yield page.get("records", [])
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.get(page["nextRecordsUrl"])


class _Expired(Exception):
    pass


def flatten(record: dict, prefix: str = "") -> dict:
    """{"Owner": {"Name": "Ann"}} -> {"Owner.Name": "Ann"}; Salesforce's `attributes` dropped."""
    out = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def soql_for(fields: list[str], watermark: str | None, since: dt.date | None) -> str:
    select = ", ".join(dict.fromkeys(fields + ["SystemModstamp", "IsDeleted"]))
    if watermark:
        where = f"SystemModstamp >= {soql_datetime(watermark)}"
    elif since:
        where = f"(CreatedDate >= {since.isoformat()}T00:00:00Z OR CloseDate >= {since.isoformat()})"
    else:
        where = ""
    return f"SELECT {select} FROM Opportunity" + (f" WHERE {where}" if where else "") + " ORDER BY SystemModstamp"


def soql_datetime(stamp: str) -> str:
    """A SystemModstamp as SOQL writes a datetime literal, to the second (>=: nothing is missed)."""
    return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def sync(client: Client, cache: SalesforceCache, fields: list[str], since: dt.date | None) -> dict:
    """Bring the cache up to date; returns {"fetched": n, "deleted": n, "full": bool}."""
    state = cache.state(CACHE_NAME)
    full = state is None or list(state.get("fields") or []) != fields
    if full:
        cache.reset(CACHE_NAME, fields)
    watermark = None if full else state.get("watermark")
    fetched = deleted = 0
    for records in client.query_all(soql_for(fields, watermark, since)):
        rows, gone = [], []
        for raw in records:
            record = flatten(raw)
            if record.get("IsDeleted"):
                gone.append(record["Id"])
            else:
                rows.append({f: record.get(f) for f in fields + ["SystemModstamp"]})
            stamp = record.get("SystemModstamp")
            if stamp and (watermark is None or stamp > watermark):
                watermark = stamp
        cache.apply(CACHE_NAME, rows, gone, watermark)  # page by page: an outage mid-sync keeps what arrived
        fetched, deleted = fetched + len(rows), deleted + len(gone)
    log.info("Salesforce sync: %d records fetched, %d deleted (%s)", fetched, deleted, "full" if full else "incremental")
    return {"fetched": fetched, "deleted": deleted, "full": full}


def cached_frame(cache: SalesforceCache, fields: list[str]) -> pd.DataFrame:
    records = cache.records(CACHE_NAME)
    frame = pd.DataFrame.from_records(records, columns=fields) if records else pd.DataFrame(columns=fields)
    frame = frame.sort_values("Id", kind="stable").reset_index(drop=True)
    # CreatedDate is a UTC timestamp ("2024-01-31T09:30:00.000+0000"): its date is the first ten characters
    frame["CreatedDate"] = frame["CreatedDate"].astype("string").str.slice(0, 10).fillna("")
    return frame


def read_salesforce(spec, mapping: ColumnMapping | None, cache: SalesforceCache | None,
                    client: Client | None = None):
    """Sync, then the cached Opportunities as a table and the mapping that reads them."""
    if cache is None:
        raise DataError("The Salesforce source needs the state store for its local copy (DATABASE_URL).")
    options = spec.options
    fields = fields_for(options)
    mapping = default_mapping(options, mapping)
    client = client or Client(options)
    sync_or_local_copy(lambda: sync(client, cache, fields, spec.since_date()), cache, CACHE_NAME, fields,
                       lambda: _stale(cache, fields, mapping, spec), "opportunities", SalesforceError)
    return cached_frame(cache, fields), mapping


def _stale(cache, fields, mapping, spec):
    from ..load import from_table

    return from_table(cached_frame(cache, fields), mapping, spec.describe() + " (local copy)")
