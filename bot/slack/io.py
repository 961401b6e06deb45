"""Talking to Slack: Web API clients with retries, replies through response_url, chart uploads."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.core.charts import Chart

log = logging.getLogger(__name__)


class RateLimitedRetryHandler(RateLimitErrorRetryHandler):
    """A rate limit as HTTP 429, or as Slack also sends it, HTTP 200 with {"ok": false, "error":
    "ratelimited"}: both waited out (Retry-After when given) and retried."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is None:
            return False
        body = response.body if isinstance(response.body, dict) else {}
        return response.status_code == 429 or body.get("error") == "ratelimited"


def retry_handlers():
    """Retry rate limits (honouring Retry-After), Slack's transient 5xx and dropped connections."""
    return [
        RateLimitedRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]


def web_client(token: str | None, base_url: str | None = None) -> WebClient:
    kwargs = {"base_url": base_url} if base_url else {}
    return WebClient(token=token, retry_handlers=retry_handlers(), **kwargs)


def send_response(response_url: str, message: dict) -> bool:
    """POST a reply to a response_url, with retries. A failure is logged with its reason, never lost silently."""
    try:
        response = WebhookClient(response_url, retry_handlers=retry_handlers()).send_dict(message)
    except Exception as exc:  # network errors after retries
        log.error("reply to %s failed: %s", response_url, exc)
        return False
    if response.status_code != 200:
        log.error("reply to %s failed: HTTP %s %s", response_url, response.status_code, response.body)
        return False
    return True


@dataclass(frozen=True)
class Upload:
    ok: bool
    file_id: str | None = None
    error: str | None = None


def upload_chart(client: WebClient, channel_id: str, chart: Chart, thread_ts: str | None = None) -> Upload:
    """Upload a chart PNG into a conversation (files_upload_v2: get URL, upload bytes, complete)."""
    return upload_file(client, channel_id, chart.png, chart.unique_filename, chart.title, thread_ts,
                       alt_txt=chart.alt_text)


def upload_file(client: WebClient, channel_id: str, content: bytes, filename: str, title: str,
                thread_ts: str | None = None, **extra) -> Upload:
    """Upload a file (a chart, a CSV of deals) into a conversation or a thread."""
    try:
        response = client.files_upload_v2(channel=channel_id, file=content, filename=filename, title=title,
                                          thread_ts=thread_ts, **extra)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        log.error("upload of %s to %s failed: %s", filename, channel_id, error)
        return Upload(False, error=error)
    except Exception as exc:  # a connection reset or timeout after the retries: the file is lost, nothing else
        log.error("upload of %s to %s failed: %s", filename, channel_id, type(exc).__name__)
        return Upload(False, error="connection_error")
    files = response.get("files") or [response.get("file") or {}]
    return Upload(True, file_id=(files[0] or {}).get("id"))
