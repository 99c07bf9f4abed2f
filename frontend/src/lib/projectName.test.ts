import { describe, expect, it } from "vitest";
import { projectNameProblem, suggestProjectName } from "./projectName";

describe("projectNameProblem", () => {
  it("accepts DNS labels", () => {
    for (const name of ["a", "my-site", "blog2", "x".repeat(63)]) {
      expect(projectNameProblem(name)).toBeNull();
    }
  });

  it("explains what is wrong with a name", () => {
    expect(projectNameProblem("")).toMatch(/required/);
    expect(projectNameProblem("My-Site")).toMatch(/lowercase/);
    expect(projectNameProblem("-site")).toMatch(/starting and ending/);
    expect(projectNameProblem("site-")).toMatch(/starting and ending/);
    expect(projectNameProblem("my_site")).toMatch(/hyphens/);
    expect(projectNameProblem("x".repeat(64))).toMatch(/63/);
    expect(projectNameProblem("a--b")).toMatch(/preview/);
    expect(projectNameProblem("api")).toMatch(/reserved/);
    expect(projectNameProblem("www")).toMatch(/reserved/);
  });
});

describe("suggestProjectName", () => {
  it("turns a repository name into a valid project name", () => {
    expect(suggestProjectName("My_Site.io")).toBe("my-site-io");
    expect(suggestProjectName("--docs--")).toBe("docs-site");
    expect(suggestProjectName("app")).toBe("app-site");
    expect(projectNameProblem(suggestProjectName("A".repeat(80)))).toBeNull();
  });
});
