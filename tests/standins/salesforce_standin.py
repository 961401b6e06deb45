"""A local stand-in for the Salesforce REST endpoints the bot uses, over real HTTP on 127.0.0.1.

    POST /services/oauth2/token                 client-credentials and JWT-bearer flows
    GET  /services/data/vNN.N/queryAll?q=SOQL   the Opportunity query, paginated
    GET  /services/data/vNN.N/query/<cursor>    the next page (nextRecordsUrl)

It understands the SOQL the bot writes: the selected fields (relationship fields such as Owner.Name
come back nested, as Salesforce sends them), `SystemModstamp >= <datetime>`, the CreatedDate/CloseDate
window, and ORDER BY SystemModstamp. Failures can be planted: expired sessions (401
INVALID_SESSION_ID) and 503s. Every request is logged for the tests to read.

The JWT bearer flow is checked as Salesforce checks it, against the public key of the certificate a test
"uploads" (`jwt_public_key`): an RS256 signature, iss = the connected app's client id, sub = a known
username, aud = the login URL, exp in the future by the stand-in's clock (`clock_offset` moves it).
A failure is answered as Salesforce does: HTTP 400 {"error": "invalid_grant", "error_description": ...}.
"""
from __future__ import annotations

import re
import time
import urllib.parse

import pandas as pd
from standin_http import JsonStandIn


class SalesforceStandIn(JsonStandIn):
    def __init__(self, client_id="standin-client", client_secret="standin-secret", page_size=2000,
                 username="integration@example.com", jwt_public_key=None):
        super().__init__()
        self.client_id, self.client_secret, self.page_size = client_id, client_secret, page_size
        self.username, self.jwt_public_key, self.clock_offset = username, jwt_public_key, 0.0
        self.grants: list[str] = []  # grant_type of every token request
        self.records: dict[str, dict] = {}  # Id -> flat record, with SystemModstamp and IsDeleted
        self.tokens: set[str] = set()
        self.issued = 0
        self.queries: list[str] = []
        self.served: list[int] = []  # records per page served
        self.cursors: dict[str, list[dict]] = {}
        self._fail: list[tuple[str, int]] = []  # (path fragment, status) to fail next, in order
        self._expire_after_pages: int | None = None

    # -- planting data and failures ----------------------------------------------------------------
    def put(self, records: list[dict]) -> None:
        with self.lock:
            for r in records:
                self.records[r["Id"]] = {"IsDeleted": False, **r}

    def expire_sessions(self, after_pages: int | None = None) -> None:
        """Invalidate every token now, or after this many more query pages have been served."""
        with self.lock:
            if after_pages is None:
                self.tokens.clear()
            else:
                self._expire_after_pages = after_pages

    def fail_next(self, fragment: str, status: int = 503, times: int = 1) -> None:
        with self.lock:
            self._fail.extend([(fragment, status)] * times)

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear(), self.queries.clear(), self.served.clear()

    # -- HTTP ------------------------------------------------------------------------------------------
    def _handle(self, handler, method: str) -> None:
        path = handler.path
        with self.lock:
            self.log.append((method, path))
            for k, (fragment, status) in enumerate(self._fail):
                if fragment in path:
                    del self._fail[k]
                    return self._reply(handler, status, [{"message": "Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}])
        if method == "POST" and path.startswith("/services/oauth2/token"):
            length = int(handler.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(handler.rfile.read(length).decode()))
            return self._token(handler, form)
        if method == "GET" and path.startswith("/services/data/"):
            auth = handler.headers.get("Authorization", "")
            with self.lock:
                valid = auth.startswith("Bearer ") and auth[len("Bearer "):] in self.tokens
            if not valid:
                return self._reply(handler, 401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
            return self._query(handler, path)
        return self._reply(handler, 404, [{"message": "not here", "errorCode": "NOT_FOUND"}])

    def _token(self, handler, form: dict) -> None:
        grant = form.get("grant_type")
        with self.lock:
            self.grants.append(grant)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self._jwt_problem(form.get("assertion", ""))
            if problem:
                return self._reply(handler, 400, {"error": problem[0], "error_description": problem[1]})
        elif not (grant == "client_credentials" and form.get("client_id") == self.client_id
                  and form.get("client_secret") == self.client_secret):
            return self._reply(handler, 400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        with self.lock:
            self.issued += 1
            token = f"00Dstandin!token{self.issued}"
            self.tokens.add(token)
        self._reply(handler, 200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                                   "id": f"{self.url}/id/00D/005", "issued_at": "0", "signature": "x"})

    def _jwt_problem(self, assertion: str) -> tuple[str, str] | None:
        """(error, error_description) as Salesforce words them, or None when the assertion is good."""
        import jwt

        if self.jwt_public_key is None:
            return "invalid_grant", "no certificate is uploaded for this connected app"
        try:
            claims = jwt.decode(assertion, self.jwt_public_key, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_aud": False, "verify_iss": False,
                                         "require": ["iss", "sub", "aud", "exp"]})
        except jwt.InvalidSignatureError:
            return "invalid_grant", "invalid assertion"
        except jwt.PyJWTError as exc:
            return "invalid_grant", f"invalid assertion: {exc}"
        if claims["iss"] != self.client_id:
            return "invalid_client_id", "client identifier invalid"
        if claims["aud"] != self.url:
            return "invalid_grant", "audience is invalid"
        if claims["sub"] != self.username:
            return "invalid_grant", "user hasn't approved this consumer"
        if float(claims["exp"]) <= time.time() + self.clock_offset:
            return "invalid_grant", "expired authorization code"
        return None

    def _query(self, handler, path: str) -> None:
        parsed = urllib.parse.urlsplit(path)
        if "/queryAll" in parsed.path:
            soql = dict(urllib.parse.parse_qsl(parsed.query))["q"]
            with self.lock:
                self.queries.append(soql)
            rows = self._run(soql)
            size = self.page_size
            batch = re.search(r"batchSize=(\d+)", handler.headers.get("Sforce-Query-Options", ""))
            if batch:
                size = min(size, int(batch.group(1)))
            pages = [rows[k:k + size] for k in range(0, len(rows), size)] or [[]]
            cursor = f"01gSTANDIN{len(self.cursors):04d}"
            with self.lock:
                self.cursors[cursor] = pages
            return self._page(handler, parsed.path.split("/queryAll")[0], cursor, 0, len(rows))
        match = re.fullmatch(r"(/services/data/v[\d.]+)/query/(01gSTANDIN\d+)-(\d+)", parsed.path)
        if match:
            version, cursor, index = match.group(1), match.group(2), int(match.group(3))
            total = sum(len(p) for p in self.cursors[cursor])
            return self._page(handler, version, cursor, index, total)
        return self._reply(handler, 404, [{"message": "no such resource", "errorCode": "NOT_FOUND"}])

    def _page(self, handler, version: str, cursor: str, index: int, total: int) -> None:
        pages = self.cursors[cursor]
        records = pages[index]
        done = index + 1 >= len(pages)
        body = {"totalSize": total, "done": done, "records": records}
        if not done:
            body["nextRecordsUrl"] = f"{version}/query/{cursor}-{index + 1}"
        with self.lock:
            self.served.append(len(records))
            if self._expire_after_pages is not None:
                self._expire_after_pages -= 1
                if self._expire_after_pages <= 0:
                    self.tokens.clear()
                    self._expire_after_pages = None
        self._reply(handler, 200, body)

    def _run(self, soql: str) -> list[dict]:
        match = re.fullmatch(r"SELECT (.+) FROM Opportunity(?: WHERE (.+?))?(?: ORDER BY SystemModstamp)?", soql.strip())
        assert match, soql
        fields = [f.strip() for f in match.group(1).split(",")]
        where = match.group(2) or ""
        with self.lock:
            rows = list(self.records.values())
        stamp = re.search(r"SystemModstamp >= (\S+)", where)
        if stamp:
            since = pd.Timestamp(stamp.group(1))
            rows = [r for r in rows if pd.Timestamp(r["SystemModstamp"]) >= since]
        window = re.search(r"CreatedDate >= (\S+) OR CloseDate >= (\S+)\)", where)
        if window:
            created, closed = pd.Timestamp(window.group(1)), window.group(2)
            rows = [r for r in rows if pd.Timestamp(r["CreatedDate"]) >= created or (r["CloseDate"] or "") >= closed]
        rows.sort(key=lambda r: (r["SystemModstamp"], r["Id"]))
        return [self._shape(r, fields) for r in rows]

    @staticmethod
    def _shape(record: dict, fields: list[str]) -> dict:
        out = {"attributes": {"type": "Opportunity", "url": f"/services/data/v61.0/sobjects/Opportunity/{record['Id']}"}}
        for f in fields:
            if "." in f:
                parent, child = f.split(".", 1)
                value = record.get(f)
                if out.get(parent) is None:
                    out[parent] = None if value is None else {"attributes": {"type": parent}}
                if value is not None:
                    out[parent][child] = value
            else:
                out[f] = record.get(f)
        return out


def opportunities(frame: pd.DataFrame, modstamp: str = "2024-07-16T02:00:00.000+0000") -> list[dict]:
    """The demo deals as Salesforce Opportunities: open deals at a stage with an expected close date;
    each last modified one second after the one before, from `modstamp`."""
    records = []
    start = pd.Timestamp(modstamp)
    for k, row in enumerate(frame.itertuples(index=False)):
        is_open = row.outcome == ""
        records.append({
            "Id": row.deal_id,
            "CreatedDate": row.created_date.strftime("%Y-%m-%dT09:30:00.000+0000"),
            "CloseDate": (row.created_date + pd.Timedelta(days=120)).strftime("%Y-%m-%d") if is_open
            else row.closed_date.strftime("%Y-%m-%d"),
            "StageName": "Negotiation/Review" if is_open else ("Closed Won" if row.outcome == "Won" else "Closed Lost"),
            "IsClosed": not is_open,
            "IsWon": row.outcome == "Won",
            "Amount": float(row.deal_amount),
            "LeadSource": row.lead_source,
            "Owner.Name": row.sales_rep_id,
            "Account.Industry": row.industry,
            "Region__c": row.region,
            "Product_Family__c": row.product_type,
            "SystemModstamp": (start + pd.Timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        })
    return records
