/** Applying `buildStatusUpdate` events to builds a view already holds. */
import type { Build } from "../api/types";

export interface BuildStatusEvent {
  projectId: number;
  buildId: number;
  status: Build["status"];
  exitCode: number | null;
  error?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export function withStatus(build: Build, event: BuildStatusEvent): Build {
  return {
    ...build,
    status: event.status,
    exit_code: event.exitCode,
    error: event.error ?? build.error,
    started_at: event.startedAt,
    finished_at: event.finishedAt,
  };
}

/**
 * A build list (newest first) after an event: the build is updated in place, or, when it is
 * new, `fetched` (the whole build, loaded by the caller) is put in order.
 */
export function mergeBuild(builds: Build[], event: BuildStatusEvent, fetched?: Build): Build[] {
  const index = builds.findIndex((b) => b.id === event.buildId);
  if (index >= 0) {
    const next = builds.slice();
    next[index] = withStatus(builds[index], event);
    return next;
  }
  if (!fetched) return builds;
  return [fetched, ...builds].sort((a, b) => b.id - a.id);
}
