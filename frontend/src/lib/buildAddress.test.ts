import { describe, expect, it } from "vitest";
import { buildAddresses } from "./buildAddress";

const production = "http://hello.localhost:8080";

describe("buildAddresses", () => {
  it("leads a live production build with the production address", () => {
    expect(buildAddresses({ url: "http://1--hello.localhost:8080", status: "live" }, production)).toEqual({
      label: "Deployed at", url: production, immutable: "http://1--hello.localhost:8080",
    });
  });

  it("leads a preview with its branch's address", () => {
    expect(buildAddresses({ url: "http://git-feature--hello.localhost:8080", status: "preview" }, production)).toEqual({
      label: "Preview at", url: "http://git-feature--hello.localhost:8080", immutable: null,
    });
  });

  it("gives a build production no longer serves only its own address", () => {
    expect(buildAddresses({ url: "http://1--hello.localhost:8080", status: "superseded" }, production)).toEqual({
      label: "Served at", url: "http://1--hello.localhost:8080", immutable: null,
    });
    expect(buildAddresses({ url: "http://1--hello.localhost:8080", status: "live" }, null)?.url).toBe("http://1--hello.localhost:8080");
    expect(buildAddresses(null, production)).toBeNull();
  });
});
