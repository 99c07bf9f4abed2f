"""The single place where database rows become API objects.

Each resource has one function; nothing else serialises rows, so a column added later (an
encrypted token, say) can never reach a client unless it is named here.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

from engine.notifications.targets import display_url
from engine.times import iso_time


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


def sites_model(public_url: str, domain: str) -> dict[str, Any]:
    """Where projects' sites live, `<scheme>://<project>.<domain>[:<port>]` (the public URL's
    scheme and port), so the dashboard can show a new project's address before it has one.
    `port` is null when it is the scheme's default."""
    public = urlsplit(public_url)
    return {"scheme": public.scheme, "domain": domain, "port": public.port}


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


def project_model(project: dict[str, Any]) -> dict[str, Any]:
    """A project with its webhook's state, latest build and live deployment. The list's pages
    are built to this shape by PostgreSQL (sql/projects.py, `_PROJECT_JSON`): a member added
    here is added there too, and tests/handlers/test_projects.py compares the two."""
    if project["github_repo"] is None:
        webhook = {"status": "none", "error": None}
    elif project["webhook_id"] is not None:
        webhook = {"status": "active", "error": None}
    else:
        webhook = {"status": "failed", "error": project["webhook_error"]}
    latest, live = project.get("latest_build"), project.get("live_deployment")
    return {
        "id": project["id"],
        "name": project["name"],
        "repo_url": project["repo_url"],
        "github_repo": project["github_repo"],
        "branch": project["branch"],
        "install_command": project["install_command"],
        "build_command": project["build_command"],
        "output_dir": project["output_dir"],
        "root_dir": project["root_dir"],
        "framework": project["framework"],
        "node_version": project["node_version"],
        "production_url": project["production_url"],
        "preview_protected": project["preview_protected"],  # never the password's hash
        "webhook": webhook,
        "latest_build": build_model(latest, project["id"]) if latest else None,
        "live_deployment": deployment_model(live, project["id"]) if live else None,
        "created_at": iso_time(project["created_at"]),
        "updated_at": iso_time(project["updated_at"]),
    }


def build_model(build: dict[str, Any], project_id: int | None = None) -> dict[str, Any]:
    return {
        "id": build["id"],
        "project_id": build.get("project_id", project_id),
        "status": build["status"],
        "trigger": build["trigger"],
        "branch": build["branch"],
        "commit_sha": build["commit_sha"],
        "commit_message": build["commit_message"],
        "commit_author": build["commit_author"],
        "preview": build.get("preview"),
        "exit_code": build["exit_code"],
        "error": build["error"],
        "created_at": iso_time(build["created_at"]),
        "started_at": iso_time(build["started_at"]),
        "finished_at": iso_time(build["finished_at"]),
    }


def deployment_model(deployment: dict[str, Any], project_id: int | None = None) -> dict[str, Any]:
    return {
        "id": deployment["id"],
        "project_id": deployment.get("project_id", project_id),
        "build_id": deployment["build_id"],
        "trigger": deployment.get("trigger"),
        "status": deployment["status"],
        "url": deployment["url"],
        "created_at": iso_time(deployment["created_at"]),
    }


def secret_model(secret: dict[str, Any]) -> dict[str, Any]:
    """A secret's name, environments and times: values are write-only and never leave the
    server."""
    return {"name": secret["name"], "environments": secret["environments"],
            "created_at": iso_time(secret["created_at"]),
            "updated_at": iso_time(secret["updated_at"])}


def deploy_hook_model(hook: dict[str, Any]) -> dict[str, Any]:
    """A deploy hook; `url` is present only in the answer that created it."""
    model = {"id": hook["id"], "project_id": hook["project_id"],
             "created_at": iso_time(hook["created_at"]),
             "last_used_at": iso_time(hook["last_used_at"])}
    if "url" in hook:
        model["url"] = hook["url"]
    return model


def log_line_model(line: dict[str, Any]) -> dict[str, Any]:
    """A stored log line, shaped like the lines of the live log events."""
    return {"lineNumber": line["line_number"], "stream": line["stream"], "log": line["text"]}


def delivery_model(delivery: dict[str, Any]) -> dict[str, Any]:
    """A recorded webhook delivery (never its body)."""
    return {
        "id": delivery["id"], "project_id": delivery["project_id"],
        "delivery": delivery["delivery_guid"], "event": delivery["event"],
        "repository": delivery["repository"], "ref": delivery["ref"],
        "commit_sha": delivery["commit_sha"], "signature_valid": delivery["signature_valid"],
        "decision": delivery["decision"], "replayable": delivery.get("replayable", False),
        "received_at": iso_time(delivery["received_at"]),
    }


def domain_model(domain: dict[str, Any], *, https: bool, url: str,
                 target: str) -> dict[str, Any]:
    """A custom domain as users see it: verification joined with its certificate (see
    engine.domains.custom_domains for what each status means)."""
    status, error = domain["status"], domain["error"]
    certificate = None
    if https and domain["certificate_status"] is not None:
        certificate = {"status": domain["certificate_status"],
                       "expires_at": iso_time(domain["certificate_expires_at"])}
    if status == "verified":
        valid = (domain["certificate_status"] is not None
                 and domain["certificate_expires_at"] is not None
                 and domain["certificate_expires_at"] > datetime.datetime.now(datetime.UTC))
        if not https or valid:
            status = "active"
        elif domain["certificate_status"] == "failed":
            status, error = "failed", f"no certificate yet: {domain['certificate_error']}"
    return {
        "hostname": domain["hostname"],
        "status": status,
        "verification": {"type": "TXT", "name": f"_slipway.{domain['hostname']}",
                         "value": domain["verification_token"]},
        "target": target,
        "certificate": certificate,
        "error": error,
        "redirect_to": domain["redirect_to"],
        "url": url,
        "created_at": iso_time(domain["created_at"]),
        "verified_at": iso_time(domain["verified_at"]),
    }


def api_token_model(token: dict[str, Any]) -> dict[str, Any]:
    """A personal access token; `token` (its value) is present only in the answer that
    created it."""
    model = {"id": token["id"], "name": token["name"], "scopes": list(token["scopes"]),
             "prefix": token["prefix"], "created_at": iso_time(token["created_at"]),
             "last_used_at": iso_time(token["last_used_at"]),
             "expires_at": iso_time(token["expires_at"])}
    if "token" in token:
        model["token"] = token["token"]
    return model


def notification_model(notification: dict[str, Any]) -> dict[str, Any]:
    """A notification. Its full `url` and its signing `secret` are in the answer that set them
    only: chat webhook URLs are credentials, so later answers show a shortened `url`."""
    model = {
        "id": notification["id"], "project_id": notification["project_id"],
        "url": notification.get("full_url") or display_url(notification["url"]),
        "events": list(notification["events"]), "format": notification["format"],
        "signed": notification["signed"], "created_at": iso_time(notification["created_at"]),
    }
    if notification.get("secret"):
        model["secret"] = notification["secret"]
    return model


def notification_delivery_model(delivery: dict[str, Any]) -> dict[str, Any]:
    """One delivery of a notification, as its log shows it (never the body sent)."""
    return {
        "id": delivery["id"], "notification_id": delivery["notification_id"],
        "event": delivery["event"], "status": delivery["status"],
        "attempts": delivery["attempts"], "response_status": delivery["response_status"],
        "error": delivery["last_error"], "created_at": iso_time(delivery["created_at"]),
        "next_attempt_at": (iso_time(delivery["next_attempt_at"])
                            if delivery["status"] == "pending" else None),
        "delivered_at": iso_time(delivery["delivered_at"]),
    }
