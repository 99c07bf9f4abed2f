"""Branch previews: `git-<branch-slug>--<project>.<domain>`, fitted into one DNS label.

The slug is the branch in lower case with anything but letters and digits turned into `-`. A
DNS label is at most 63 characters, so a slug too long for the project's name is cut and given
a short hash of the full branch name, keeping two long branches with a common prefix apart.
"""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63


def branch_slug(branch: str, project: str) -> str:
    room = MAX_LABEL - len("git-") - len("--") - len(project)
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-") or "branch"
    if len(slug) > room:
        digest = hashlib.sha256(branch.encode()).hexdigest()[:6]
        slug = slug[: max(room - 7, 1)].strip("-") + "-" + digest
    return slug


def preview_label(branch: str, project: str) -> str:
    return f"git-{branch_slug(branch, project)}--{project}"
