import { describe, expect, it } from "vitest";
import type { Domain } from "../api/types";
import {
  certificateText,
  checkOutcome,
  DOMAIN_STATUS,
  dnsRecords,
  isSettling,
  looksLikeApex,
  normalizeHostname,
  recordsOpen,
  redirectOptions,
  redirectsTo,
  sortDomains,
  statusChanges,
  withDomain,
  withoutDomain,
} from "./domains";

const domain = (hostname: string, overrides: Partial<Domain> = {}): Domain => ({
  hostname,
  status: "pending",
  verification: { type: "TXT", name: `_slipway.${hostname}`, value: "slipway-verify=abc123" },
  target: "blog.slipway.example.net",
  certificate: null,
  error: null,
  redirect_to: null,
  url: `https://${hostname}`,
  created_at: "2026-12-01T12:00:00Z",
  verified_at: null,
  ...overrides,
});
const names = (list: Domain[]) => list.map((d) => d.hostname);

describe("normalizeHostname", () => {
  it("trims and lowercases what was typed", () => {
    expect(normalizeHostname("  WWW.Example.COM \n")).toBe("www.example.com");
  });
  it("keeps only the host of a pasted address, without a trailing dot", () => {
    expect(normalizeHostname("https://Shop.Example.com/about?x=1")).toBe("shop.example.com");
    expect(normalizeHostname("http://example.com/")).toBe("example.com");
    expect(normalizeHostname("example.com.")).toBe("example.com");
    expect(normalizeHostname("   ")).toBe("");
  });
});

describe("status", () => {
  it("has a distinct word and style for each status", () => {
    const labels = Object.values(DOMAIN_STATUS).map((s) => s.label);
    const tones = Object.values(DOMAIN_STATUS).map((s) => s.tone);
    expect(labels).toEqual(["Pending", "Verified", "Active", "Failed"]);
    expect(new Set(tones).size).toBe(4);
  });
  it("keeps refreshing while a domain is pending or verified, and stops once all are settled", () => {
    expect(isSettling([domain("a.example.com", { status: "active" }), domain("b.example.com")])).toBe(true);
    expect(isSettling([domain("a.example.com", { status: "verified" })])).toBe(true);
    expect(isSettling([domain("a.example.com", { status: "active" }), domain("b.example.com", { status: "failed" })])).toBe(false);
    expect(isSettling([])).toBe(false);
  });
});

describe("sortDomains", () => {
  it("groups a site's domains, apex first, whatever their status", () => {
    const list = [
      domain("www.example.com", { status: "active" }),
      domain("example.org"),
      domain("example.com", { status: "failed" }),
      domain("blog.example.com"),
    ];
    expect(names(sortDomains(list))).toEqual(["example.com", "blog.example.com", "www.example.com", "example.org"]);
    expect(names(list)[0]).toBe("www.example.com");
  });
});

describe("dnsRecords", () => {
  it("lists the TXT proof, then a CNAME to the project's host for a subdomain", () => {
    expect(dnsRecords(domain("www.example.com"))).toEqual([
      { type: "TXT", name: "_slipway.www.example.com", value: "slipway-verify=abc123" },
      { type: "CNAME", name: "www.example.com", value: "blog.slipway.example.net" },
    ]);
  });
  it("asks for an ALIAS at an apex, where DNS forbids a CNAME", () => {
    expect(dnsRecords(domain("example.com"))[1]).toEqual({ type: "ALIAS", name: "example.com", value: "blog.slipway.example.net" });
    expect(dnsRecords(domain("shop.co.uk"))[1].type).toBe("ALIAS");
    expect(dnsRecords(domain("www.shop.co.uk"))[1].type).toBe("CNAME");
  });
  it("recognises apex domains", () => {
    expect(looksLikeApex("example.com")).toBe(true);
    expect(looksLikeApex("example.com.au")).toBe(true);
    expect(looksLikeApex("www.example.com")).toBe(false);
    expect(looksLikeApex("www.example.test")).toBe(false);
  });
  it("shows the records until the domain is served", () => {
    expect(recordsOpen(domain("a.example.com"))).toBe(true);
    expect(recordsOpen(domain("a.example.com", { status: "failed" }))).toBe(true);
    expect(recordsOpen(domain("a.example.com", { status: "active" }))).toBe(false);
  });
});

describe("redirectOptions", () => {
  it("offers the project's other domains, never the domain itself", () => {
    const list = [domain("www.example.com"), domain("example.com"), domain("example.org")];
    expect(redirectOptions(list, "example.com")).toEqual({ choices: ["www.example.com", "example.org"], blocked: null });
  });
  it("offers no domain that redirects itself, so a redirect is one hop", () => {
    const list = [domain("www.example.com"), domain("example.com", { redirect_to: "www.example.com" }), domain("example.org")];
    expect(redirectOptions(list, "example.org").choices).toEqual(["www.example.com"]);
    expect(redirectOptions(list, "example.com").choices).toEqual(["www.example.com", "example.org"]);
  });
  it("keeps the current target selectable even when it is no longer listed", () => {
    const list = [domain("example.com", { redirect_to: "www.example.com" }), domain("example.org")];
    expect(redirectOptions(list, "example.com").choices).toEqual(["www.example.com", "example.org"]);
  });
  it("says why a domain others redirect to cannot redirect", () => {
    const list = [domain("www.example.com"), domain("example.com", { redirect_to: "www.example.com" })];
    expect(redirectOptions(list, "www.example.com")).toEqual({ choices: [], blocked: "example.com redirects here." });
  });
});

describe("certificateText", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  it("says nothing without a certificate (HTTPS off)", () => {
    expect(certificateText(null, now)).toBeNull();
  });
  it("says whether it is issued and when it expires", () => {
    expect(certificateText({ status: "pending", expires_at: null }, now)).toBe("Certificate being issued");
    expect(certificateText({ status: "failed", expires_at: null }, now)).toBe("Certificate not issued");
    expect(certificateText({ status: "issued", expires_at: "2027-03-01T12:00:00Z" }, now)).toMatch(/^Certificate issued, expires in 3 months \(/);
    expect(certificateText({ status: "issued", expires_at: "2026-11-01T12:00:00Z" }, now)).toMatch(/^Certificate issued, expired /);
  });
});

describe("checkOutcome", () => {
  it("says what a check found, with the reason when it is not there yet", () => {
    expect(checkOutcome(domain("www.example.com", { status: "active" }))).toBe("Active: served at www.example.com.");
    expect(checkOutcome(domain("www.example.com", { status: "verified" }))).toMatch(/^Verified/);
    expect(checkOutcome(domain("www.example.com", { error: "no TXT record at _slipway.www.example.com yet" }))).toMatch(
      /^Not verified yet: no TXT record at _slipway.www.example.com yet\./,
    );
    expect(checkOutcome(domain("www.example.com", { status: "failed", error: "CAA forbids the CA" }))).toBe("Failed: CAA forbids the CA.");
    expect(checkOutcome(domain("www.example.com", { status: "failed", error: "Rate limited." }))).toBe("Failed: Rate limited.");
  });
});

describe("statusChanges", () => {
  it("announces each domain whose status changed, and nothing on the first load", () => {
    const before = [domain("www.example.com"), domain("example.com")];
    const after = [domain("www.example.com", { status: "active" }), domain("example.com"), domain("new.example.com")];
    expect(statusChanges(undefined, after)).toEqual([]);
    expect(statusChanges(before, after)).toEqual(["www.example.com is now active."]);
    expect(statusChanges(after, after)).toEqual([]);
  });
});

describe("withDomain", () => {
  it("replaces a domain in place or adds a new one", () => {
    const list = [domain("a.example.com"), domain("b.example.com")];
    const updated = withDomain(list, domain("a.example.com", { status: "active" }));
    expect(names(updated)).toEqual(["a.example.com", "b.example.com"]);
    expect(updated[0].status).toBe("active");
    expect(names(withDomain(list, domain("c.example.com")))).toEqual(["a.example.com", "b.example.com", "c.example.com"]);
    expect(names(withDomain(undefined, domain("c.example.com")))).toEqual(["c.example.com"]);
  });
});

describe("withoutDomain", () => {
  it("removes a domain, and those redirecting to it serve the site again", () => {
    const list = [domain("www.example.com"), domain("example.com", { redirect_to: "www.example.com" }), domain("example.org")];
    expect(redirectsTo(list, "www.example.com")).toEqual(["example.com"]);
    const after = withoutDomain(list, "www.example.com");
    expect(names(after)).toEqual(["example.com", "example.org"]);
    expect(after[0].redirect_to).toBeNull();
    expect(redirectsTo(after, "www.example.com")).toEqual([]);
  });
});
