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


def retry_handlers():
    """Retry rate limits (honouring Retry-After), Slack's transient 5xx and dropped connections."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
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
    try:
        response = client.files_upload_v2(channel=channel_id, content=None, file=chart.png, filename=chart.unique_filename,
                                          title=chart.title, alt_txt=chart.alt_text, thread_ts=thread_ts)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        log.error("chart upload to %s failed: %s", channel_id, error)
        return Upload(False, error=error)
    files = response.get("files") or [response.get("file") or {}]
    return Upload(True, file_id=(files[0] or {}).get("id"))


def upload_file(client: WebClient, channel_id: str, content: bytes, filename: str, title: str,
                thread_ts: str | None = None) -> Upload:
    """Upload a file (a CSV of deals) into a conversation's thread."""
    try:
        response = client.files_upload_v2(channel=channel_id, file=content, filename=filename, title=title,
                                          thread_ts=thread_ts)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        log.error("file upload to %s failed: %s", channel_id, error)
        return Upload(False, error=error)
    files = response.get("files") or [response.get("file") or {}]
    return Upload(True, file_id=(files[0] or {}).get("id"))
