/** What a project's card says about it, derived from its latest build and live deployment. */
import type { Build, Project } from "../api/types";

export type ProjectState = "building" | "live" | "failed" | "canceled" | "new";

export function projectState(project: Project): ProjectState {
  const build = project.latest_build;
  if (build && (build.status === "queued" || build.status === "running")) return "building";
  if (build?.status === "failed") return "failed";
  if (project.live_deployment) return "live";
  if (build?.status === "canceled") return "canceled";
  return "new";
}

export const STATE_LABELS: Record<ProjectState, string> = {
  building: "Building",
  live: "Live",
  failed: "Failed",
  canceled: "Canceled",
  new: "No deployments",
};

export const BUILD_LABELS: Record<Build["status"], string> = {
  queued: "Queued",
  running: "Building",
  passed: "Ready",
  failed: "Failed",
  canceled: "Canceled",
};

export function isActive(build: Pick<Build, "status">): boolean {
  return build.status === "queued" || build.status === "running";
}

/**
 * A preview branch's address, `git-<slug>--<project>.<domain>`, built from any address of the
 * same project (its production URL, or a deployment's immutable URL).
 */
export function previewUrl(slug: string, project: Project, anyUrl?: string | null): string | null {
  const base = project.production_url ?? anyUrl;
  if (!base) return null;
  const url = new URL(base);
  const rest = url.hostname.split(".").slice(1).join(".");
  url.hostname = `git-${slug}--${project.name}.${rest}`;
  return url.origin;
}

/**
 * A repository given as a path on the Slipway machine (only the local administrator may):
 * nothing ever pushes to it, so no preview branch is built from it.
 */
export function isLocalRepository(repoUrl: string | null): boolean {
  return repoUrl !== null && (repoUrl.startsWith("/") || repoUrl.startsWith("file:"));
}
