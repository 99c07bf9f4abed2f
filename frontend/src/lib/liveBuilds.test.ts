import { describe, expect, it } from "vitest";
import type { Build } from "../api/types";
import { mergeBuild } from "./liveBuilds";

const build = (id: number, status: Build["status"] = "passed") => ({ id, status, error: null } as Build);
const event = (buildId: number, status: Build["status"]) => ({
  projectId: 1, buildId, status, exitCode: status === "failed" ? 1 : null, error: status === "failed" ? "exit 1" : null,
  startedAt: "2026-12-01T12:00:00Z", finishedAt: null,
});

describe("mergeBuild", () => {
  it("updates a known build in place", () => {
    const merged = mergeBuild([build(3, "running"), build(2)], event(3, "failed"));
    expect(merged.map((b) => [b.id, b.status])).toEqual([[3, "failed"], [2, "passed"]]);
    expect(merged[0].exit_code).toBe(1);
    expect(merged[0].error).toBe("exit 1");
  });

  it("puts a new build first once it has been fetched", () => {
    const builds = [build(3), build(2)];
    expect(mergeBuild(builds, event(4, "queued"))).toBe(builds);
    expect(mergeBuild(builds, event(4, "queued"), build(4, "queued")).map((b) => b.id)).toEqual([4, 3, 2]);
  });
});
