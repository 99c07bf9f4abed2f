import { describe, expect, it } from "vitest";
import { siteHost } from "./sites";

describe("siteHost", () => {
  it("is the project under the sites' domain, with a port only when it is not the default", () => {
    expect(siteHost("hello", { scheme: "http", domain: "localhost", port: 8080 })).toBe("hello.localhost:8080");
    expect(siteHost("blog", { scheme: "https", domain: "sites.example.com", port: null })).toBe("blog.sites.example.com");
  });
});
