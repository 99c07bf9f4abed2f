import { Link } from "wouter-preact";
import type { Build } from "../api/types";
import { formatDuration } from "../lib/time";
import { BuildStatusBadge } from "./BuildStatus";
import { firstLine, shortSha, Time } from "./ui";

const TRIGGERS: Record<string, string> = {
  push: "Push",
  manual: "Manual",
  rollback: "Rollback",
  hook: "Deploy hook",
  upload: "Upload",
  redeliver: "Redelivery",
};

/** `live`: this build is what production serves now (the project's live deployment). */
export function BuildRow({ build, live = false }: { build: Build; live?: boolean }) {
  return (
    <li class="build-row" data-testid="build-row" data-build={build.id}>
      <div class="build-main">
        <Link href={`/builds/${build.id}`} class="build-id">
          #{build.id}
        </Link>
        <BuildStatusBadge status={build.status} />
        {live && <span class="tag tag-live" title="Production serves this build">Live</span>}
        {build.preview && <span class="tag" title="Preview branch">Preview · {build.branch}</span>}
      </div>
      <div class="build-commit">
        <span class="commit-message">{firstLine(build.commit_message) ||
          <span class="muted">{build.trigger === "upload" ? "Uploaded files (slipway deploy)" : "No commit message"}</span>}</span>
        <span class="muted">
          <code>{shortSha(build.commit_sha)}</code> · {build.branch}
          {build.commit_author && <> · {build.commit_author}</>}
        </span>
      </div>
      <div class="build-meta muted">
        <span>{TRIGGERS[build.trigger] ?? build.trigger}</span>
        <span title="Duration">{build.started_at ? formatDuration(build.started_at, build.finished_at) : "—"}</span>
        <Time iso={build.created_at} />
      </div>
    </li>
  );
}
