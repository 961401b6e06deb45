"""Replies as Block Kit: the text reply cut into sections within Slack's limits, laid out by a template."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.core.render import environment, mrkdwn_escape, redact, render
from bot.core.reply import Reply

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_BUTTON_VALUE = 2000
FENCE = "```"
# blocks the template adds around the sections at most: read-as line, cut note, image, footer, shared-by,
# share, next questions, readings and verdict
RESERVED = 8
# After escaping, channel and user mentions (<#C0SALES>, <@U0CRO>) are let through again: they name
# a conversation or a person and ping nobody else. <!channel>, <!here> and links stay escaped.
_MENTION = re.compile(r"&lt;([#@][CGDUW][A-Z0-9]{2,20})&gt;")


# Slack mrkdwn has no escape for its styling characters. At load, a CRM label's `*`, `~` and backtick
# already become look-alikes (insights/labels.py); `_` cannot (rep_12, Closed_Won are real values that
# commands and buttons carry), so "_x_" would come out in italics. In Slack text only (never the
# console, JSON, a command line or a button's value), a styling character of a data label that could
# open or close styling (at the label's edge or next to a space or punctuation, not inside a word such
# as rep_12) gets a zero-width space on either side: an opener must touch the text it styles and a
# closer must follow it, so whichever way Slack classes the zero-width space, neither can match. The
# label reads as written; code spans and blocks are left alone (nothing styles there).
STYLING = "_*~`"
ZWSP = "\u200b"
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _neutral(label: str) -> str:
    """The label with each styling character that could open or close styling fenced by zero-width spaces."""
    out = []
    for k, c in enumerate(label):
        inside_word = 0 < k < len(label) - 1 and label[k - 1].isalnum() and label[k + 1].isalnum()
        out.append(f"{ZWSP}{c}{ZWSP}" if c in STYLING and not inside_word else c)
    return "".join(out)


def styled(values) -> tuple[str, ...]:
    """Of `values` (data labels, deal ids), those whose styling characters could restyle Slack text,
    longest first (a label inside another is matched as part of the longer)."""
    labels = {str(v) for v in values if any(c in str(v) for c in STYLING) and _neutral(str(v)) != str(v)}
    return tuple(sorted(labels, key=len, reverse=True))


def styled_labels(snapshot, also=()) -> tuple[str, ...]:
    """The data labels (segment values of every dimension, and `also`: other values from the data a
    message shows, such as an alert's deal id) whose styling characters could restyle a Slack message,
    longest first; only `also`'s without a snapshot. Every surface that posts data to Slack passes these
    to `assemble_blocks` and `fallback_text`: replies, shares and follows (the answering view), the
    digest (the channel's view), alerts (`bot.clock.alerting.finding_labels`) and the Home tab."""
    values = [v for d in snapshot.dimensions for v in snapshot.values(d)] if snapshot is not None else []
    return styled([*values, *also])


def unstyled(text: str, labels: tuple[str, ...] | list[str] = ()) -> str:
    """The text with each data label in `labels` written so Slack shows it as written, never as
    styling (see above); outside code spans and blocks only."""
    if not labels or not any(label in text for label in labels):
        return text
    pattern = re.compile("|".join(re.escape(label) for label in labels))
    neutral = {label: _neutral(label) for label in labels}
    out, last = [], 0
    for span in _CODE.finditer(text):
        out.append(pattern.sub(lambda m: neutral[m.group(0)], text[last:span.start()]))
        out.append(span.group(0))
        last = span.end()
    out.append(pattern.sub(lambda m: neutral[m.group(0)], text[last:]))
    return "".join(out)


def escape(text: str, labels: tuple[str, ...] | list[str] = ()) -> str:
    return _MENTION.sub(r"<\1>", mrkdwn_escape(unstyled(redact(text), labels)))


def code_span(text: str) -> str:
    """Text to show inside `...` in mrkdwn: escaped, on one line, with no backtick to end the span."""
    return " ".join(mrkdwn_escape(redact(text)).replace("`", "\u02cb").split())


@dataclass(frozen=True)
class Image:
    file_id: str
    title: str
    alt_text: str


def split_reply(text: str) -> tuple[list[str], str | None]:
    """Paragraphs and code blocks of a reply (each within the section limit) and its footer line."""
    lines = text.rstrip().splitlines()
    footer = None
    if lines and lines[-1].startswith("_") and lines[-1].endswith("_") and "data as of" in lines[-1]:
        footer = lines.pop()
    pieces, current, in_code = [], [], False
    for line in lines:
        if line.strip() == FENCE or (line.startswith(FENCE) and line.count(FENCE) == 1):
            if in_code:
                current.append(line)
                pieces.append(("code", current))
                current, in_code = [], False
            else:
                if current:
                    pieces.append(("text", current))
                current, in_code = [line], True
        elif not line.strip() and not in_code:
            if current:
                pieces.append(("text", current))
            current = []
        else:
            current.append(line)
    if current:
        pieces.append(("code" if in_code else "text", current + ([FENCE] if in_code else [])))
    sections = []
    for kind, block in pieces:
        sections.extend(_fit(kind, block))
    return sections, footer


def _fit(kind: str, lines: list[str]) -> list[str]:
    """One piece as one or more section texts of at most MAX_SECTION characters."""
    text = "\n".join(lines)
    if len(text) <= MAX_SECTION:
        return [text]
    body = lines[1:-1] if kind == "code" else lines
    wrap = (lambda chunk: FENCE + "\n" + "\n".join(chunk) + "\n" + FENCE) if kind == "code" else "\n".join
    out, chunk = [], []
    for line in body:
        line = line[: MAX_SECTION - 10]
        if chunk and len(wrap(chunk + [line])) > MAX_SECTION:
            out.append(wrap(chunk))
            chunk = []
        chunk.append(line)
    if chunk:
        out.append(wrap(chunk))
    return out


def assemble_blocks(text: str, *, template: str = "blocks/reply.json.j2", max_blocks: int = MAX_BLOCKS,
                    after: tuple[str, ...] | list[str] = (), command_line: str = "", share: bool = False,
                    image: Image | None = None, shared_by: str | None = None, labels: tuple[str, ...] = (),
                    **extra) -> list[dict]:
    """The one Block Kit assembly: the text cut into sections within Slack's limits (mrkdwn-escaped:
    &, <, >; `labels`: the data labels whose styling characters are neutralised, see `unstyled`), `after`
    sections appended, laid out by a block template. Replies, the digest, the Home tab and alerts all
    come through here."""
    sections, footer = split_reply(escape(text, labels))
    if extra.get("read_as"):  # "Read as: Win rate · <label>": escaped and unstyled as the text is
        extra["read_as"] = escape(extra["read_as"], labels)
    sections = sections + [redact(s) for s in after]  # already mrkdwn (mentions), not user text
    room = max_blocks - RESERVED
    cut_lines = sum(s.count("\n") + 1 for s in sections[room:])
    rendered = environment().get_template(template).render(
        sections=sections[:room], cut_lines=cut_lines, footer=footer, image=image, share=share,
        shared_by=shared_by, command_line=code_span(command_line)[:MAX_BUTTON_VALUE],
        command_value=command_line[:MAX_BUTTON_VALUE], **extra,
    )
    return json_lines(rendered)


def reply_message(reply: Reply, line: str = "", *, share: bool = False, shared_by: str | None = None,
                  **extra) -> dict:
    """The one Slack message for a Reply, wherever it goes (a slash command's response, a thread, a
    share, a follow): {"text", "blocks"}. `line` is the command the Share button and the shared-by
    line carry; `extra` the thread's buttons (followups, read_as, readings, verdict). A question
    asked back lists its readings as buttons, so its words are the button variant."""
    text = reply.text
    if reply.asked_back:
        text = render("text/ask_back.j2", question=reply.question, choices=reply.choices,
                      unsupported=reply.unsupported, note=reply.note, contested=reply.contested,
                      buttons=True)
    labels = styled_labels(reply.view, also=reply.shown)
    fallback = escape(text, labels) if reply.kind in ("refused", "error") else fallback_text(text, labels)
    return {"text": fallback, "blocks": assemble_blocks(text, command_line=line, share=share, shared_by=shared_by,
                                                        labels=labels, **extra)}


def shareable(reply: Reply) -> bool:
    """An answer about the deals may be shared into the channel; one about the bot's own rules may not."""
    return reply.kind == "answer" and reply.command not in ("alerts", "digest", "follow")


def fallback_text(text: str, labels: tuple[str, ...] = ()) -> str:
    """The notification text: the reply's first line, without bold, escaped as the blocks are (the
    notification is the field Slack pings from: a raw `<!channel>` here would ping)."""
    first = text.strip().splitlines()[0] if text.strip() else "Sales Intelligence"
    return escape(first.replace("*", "").replace("```", ""), labels)[:300]


def json_lines(rendered: str) -> list[dict]:
    """Block templates write one JSON object per line (no commas to get wrong)."""
    return [json.loads(line) for line in rendered.splitlines() if line.strip()]
