import { describe, expect, it } from "vitest";
import { toggleEnvironment } from "./environments";

describe("toggleEnvironment", () => {
  it("adds and removes in canonical order", () => {
    expect(toggleEnvironment(["preview"], "production", true)).toEqual(["production", "preview"]);
    expect(toggleEnvironment(["production", "preview"], "production", false)).toEqual(["preview"]);
    expect(toggleEnvironment(["production"], "production", true)).toEqual(["production"]);
  });

  it("never leaves a secret in no environment", () => {
    expect(toggleEnvironment(["preview"], "preview", false)).toEqual(["preview"]);
  });
});
