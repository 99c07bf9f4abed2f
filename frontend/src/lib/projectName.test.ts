import { describe, expect, it } from "vitest";
import { projectNameProblem, suggestNameFromRepo, suggestProjectName } from "./projectName";

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

describe("suggestNameFromRepo", () => {
  it("takes the repository's name from a pasted URL or path", () => {
    expect(suggestNameFromRepo("https://github.com/ada/hello.git")).toBe("hello");
    expect(suggestNameFromRepo("https://git.example.com/ada/Hello_World")).toBe("hello-world");
    expect(suggestNameFromRepo("/home/ada/src/hello")).toBe("hello");
    expect(suggestNameFromRepo("/home/ada/src/hello/ ")).toBe("hello");
    expect(suggestNameFromRepo("file:///srv/git/site.GIT")).toBe("site");
    expect(suggestNameFromRepo("git@github.com:ada/blog.git")).toBe("blog");
    expect(suggestNameFromRepo("https://example.com/ada/guide.git?ref=main#x")).toBe("guide");
  });

  it("suggests only valid names, or nothing", () => {
    expect(suggestNameFromRepo("https://example.com/ada/api.git")).toBe("api-site");
    expect(suggestNameFromRepo("")).toBe("");
    expect(suggestNameFromRepo("/")).toBe("");
    expect(suggestNameFromRepo("https://")).toBe("");
  });
});
