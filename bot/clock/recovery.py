"""Finding a post a crashed run made: the one recovery step every ledger (digest, follows, alerts) shares.

Each post carries message metadata naming what it is (an event type and its ledger key). A claim
that outlived its lease was left by a run that died between claiming and recording the post, so
the post may or may not have reached Slack; before posting again, the run that takes the claim over
looks for it in the conversation's recent history by that metadata. Found: only the record was
missing, and it is written. Not found: the post never happened, and it is made now.
"""
from __future__ import annotations

import datetime as dt
import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

LOOK_BACK = dt.timedelta(days=8)  # longer than any ledger period (a week)


def find_posted(client: WebClient, channel: str, event_type: str, key: dict, now: dt.datetime) -> str | None:
    """The ts of the message in `channel` whose metadata is `event_type` with `key` in its payload, or
    None when there is none (or the history cannot be read: logged, and the caller posts)."""
    try:
        history = client.conversations_history(channel=channel, include_all_metadata=True, limit=200,
                                               oldest=str((now - LOOK_BACK).timestamp()))
    except SlackApiError as exc:
        log.warning("could not check %s for an earlier %s post (%s); posting", channel, event_type,
                    exc.response.get("error"))
        return None
    except Exception as exc:  # the connection, after the client's retries
        log.warning("could not check %s for an earlier %s post (%s); posting", channel, event_type,
                    type(exc).__name__)
        return None
    for message in history.get("messages", []):
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == event_type and all(payload.get(k) == v for k, v in key.items()):
            return message.get("ts")
    return None
