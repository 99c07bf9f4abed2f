import type { Build } from "../api/types";
import { BUILD_LABELS, type ProjectState, STATE_LABELS } from "../lib/status";
import { Badge } from "./ui";

const BUILD_TONES: Record<Build["status"], string> = {
  queued: "pending",
  running: "building",
  passed: "ok",
  failed: "bad",
  canceled: "neutral",
};

const STATE_TONES: Record<ProjectState, string> = {
  building: "building",
  live: "ok",
  failed: "bad",
  canceled: "neutral",
  new: "neutral",
};

export function BuildStatusBadge({ status, testId }: { status: Build["status"]; testId?: string }) {
  return (
    <Badge tone={BUILD_TONES[status]} testId={testId}>
      {BUILD_LABELS[status]}
    </Badge>
  );
}

export function ProjectStateBadge({ state }: { state: ProjectState }) {
  return (
    <Badge tone={STATE_TONES[state]} testId="project-status">
      {STATE_LABELS[state]}
    </Badge>
  );
}
