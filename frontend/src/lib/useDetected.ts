/** What the project's builds detected, for Settings to show what an empty field stands for. */
import { api } from "../api/client";
import type { LogPage, Project } from "../api/types";
import { type Detected, detectedSettings } from "./detection";
import { useResource } from "./useResource";

/** Detection is logged before the install: the first lines of a build's log hold it. */
const HEAD_LINES = 200;

export interface DetectedIn {
  buildId: number;
  detected: Detected;
}

/** The latest build's detection, or the live build's when the latest stopped before
 *  detecting (a failed clone); null before any build has detected anything. */
export function useDetected(project: Project) {
  const latest = project.latest_build;
  const candidates = [latest && latest.status !== "queued" ? latest.id : null, project.live_deployment?.build_id ?? null];
  const ids = [...new Set(candidates.filter((id): id is number => id !== null))];
  return useResource(async (signal): Promise<DetectedIn | null> => {
    for (const buildId of ids) {
      const page = await api<LogPage>(`/builds/${buildId}/logs?limit=${HEAD_LINES}`, { signal });
      const detected = detectedSettings(page.lines);
      if (Object.keys(detected).length) return { buildId, detected };
    }
    return null;
  }, [ids.join(",")]);
}
