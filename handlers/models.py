"""The single place where database rows become API objects.

Each resource has one function; nothing else serialises rows, so a column added later (an
encrypted token, say) can never reach a client unless it is named here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every time in the API is written."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def user_model(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user["id"],
        "username": user["username"],
        "email": user["email"],
        "avatar_url": user["avatar_url"],
        "github_id": user["github_id"],
        "github_linked": user["github_linked"],
        "is_local_admin": user["is_local_admin"],
        "created_at": iso_time(user["created_at"]),
    }


def github_repo_model(repo: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": repo.get("name"),
        "full_name": repo.get("full_name"),
        "default_branch": repo.get("default_branch"),
        "private": bool(repo.get("private")),
        "updated_at": repo.get("updated_at"),
        "clone_url": repo.get("clone_url"),
        "html_url": repo.get("html_url"),
    }
