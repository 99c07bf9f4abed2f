import { describe, expect, it } from "vitest";
import type { Project } from "../api/types";
import { isLocalRepository, previewUrl, projectState } from "./status";

const project = (overrides: Partial<Project> = {}): Project => ({
  id: 1, name: "demo", repo_url: "", github_repo: null, branch: "main", install_command: null,
  build_command: null, output_dir: null, root_dir: null, framework: null, node_version: null,
  production_url: null,
  preview_protected: false,
  webhook: { status: "none", error: null }, latest_build: null, live_deployment: null,
  created_at: "", updated_at: "", ...overrides,
});
const build = (status: any) => ({ id: 2, status } as any);

describe("projectState", () => {
  it("is building while the latest build is queued or running, even when a site is live", () => {
    expect(projectState(project({ latest_build: build("running"), live_deployment: {} as any }))).toBe("building");
    expect(projectState(project({ latest_build: build("queued") }))).toBe("building");
  });
  it("is failed when the latest build failed, live when a deployment is live", () => {
    expect(projectState(project({ latest_build: build("failed"), live_deployment: {} as any }))).toBe("failed");
    expect(projectState(project({ latest_build: build("passed"), live_deployment: {} as any }))).toBe("live");
    expect(projectState(project())).toBe("new");
  });
});

describe("previewUrl", () => {
  it("puts the branch slug before the project's label, keeping scheme and port", () => {
    const p = project({ production_url: "http://demo.localhost:8080" });
    expect(previewUrl("feature-x", p)).toBe("http://git-feature-x--demo.localhost:8080");
    expect(previewUrl("b", project(), "https://12--demo.example.com")).toBe("https://git-b--demo.example.com");
    expect(previewUrl("b", project())).toBeNull();
  });
});

describe("isLocalRepository", () => {
  it("is a path on this machine, not a URL or no Git at all", () => {
    expect(isLocalRepository("/home/ada/src/hello")).toBe(true);
    expect(isLocalRepository("file:///srv/git/hello")).toBe(true);
    expect(isLocalRepository("https://github.com/ada/hello.git")).toBe(false);
    expect(isLocalRepository(null)).toBe(false);
  });
});
