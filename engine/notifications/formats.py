"""What a delivery says, in each format: Slipway's JSON, or the shapes Slack's and Discord's
incoming webhooks accept as they are (so a user pastes the channel's webhook URL, nothing in
between). Bodies are rendered once, when queued, and stored: a retry sends the same bytes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

EVENTS = ("deploy_succeeded", "deploy_failed", "build_started")
FORMATS = ("json", "slack", "discord")
TEST_EVENT = "test"  # what "Send test" queues, whatever the notification's events

_HEADLINES = {
    "deploy_succeeded": "deployed",
    "deploy_failed": "build failed",
    "build_started": "build started",
    TEST_EVENT: "test notification from Slipway",
}
_EMOJI = {"deploy_succeeded": "✅", "deploy_failed": "❌", "build_started": "🔨",
          TEST_EVENT: "🔔"}
# Discord embed colours: GitHub's green, red and blue, and a neutral grey.
_COLORS = {"deploy_succeeded": 0x2DA44E, "deploy_failed": 0xCF222E, "build_started": 0x0969DA,
           TEST_EVENT: 0x8C959F}


@dataclass(frozen=True)
class Message:
    """One event about one project, in the JSON format's own shape."""

    event: str
    project: dict[str, Any]            # {id, name}
    build: dict[str, Any] | None       # {id, status, branch, commit_sha, trigger, error}
    deployment: dict[str, Any] | None  # {id, url}; id is None for a branch preview
    url: str                           # the build's page in the dashboard (or the project's)
    created_at: str


def render(format: str, message: Message) -> bytes:
    if format == "slack":
        body = slack_body(message)
    elif format == "discord":
        body = discord_body(message)
    else:
        body = asdict(message)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def headline(message: Message) -> str:
    """`site: deployed`, one line for a chat message or a notification preview."""
    return f"{message.project['name']}: {_HEADLINES.get(message.event, message.event)}"


def details(message: Message) -> list[str]:
    """The facts worth a glance: the build, its commit, where it went live, why it failed."""
    build, deployment = message.build, message.deployment
    lines = []
    if build:
        commit = f" at {build['commit_sha'][:7]}" if build.get("commit_sha") else ""
        lines.append(f"Build #{build['id']} of {build['branch']}{commit} ({build['trigger']})")
        if message.event == "deploy_failed" and build.get("error"):
            lines.append(f"Error: {build['error']}")
    if deployment:
        lines.append(f"Live at {deployment['url']}")
    return lines


def slack_body(message: Message) -> dict[str, Any]:
    """Slack's incoming-webhook shape: `text` for notifications, `blocks` for the channel."""
    title = f"{_EMOJI.get(message.event, '')} {headline(message)}".strip()
    facts = "\n".join(_slack_escape(line) for line in details(message))
    blocks: list[dict[str, Any]] = [{
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*<{message.url}|{_slack_escape(title)}>*"},
    }]
    if facts:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]})
    return {"text": title, "blocks": blocks}


def discord_body(message: Message) -> dict[str, Any]:
    """Discord's webhook shape: `content` and one embed linking to the build."""
    title = headline(message)
    return {
        "content": f"{_EMOJI.get(message.event, '')} {title}".strip(),
        "embeds": [{
            "title": title,
            "url": message.url,
            "color": _COLORS.get(message.event, _COLORS[TEST_EVENT]),
            "description": "\n".join(details(message)),
            "timestamp": message.created_at,
        }],
    }


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn treats these three as markup (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
