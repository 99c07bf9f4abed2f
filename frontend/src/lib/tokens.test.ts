import { describe, expect, it } from "vitest";
import type { ApiToken } from "../api/types";
import { DEFAULT_EXPIRY_DAYS, EXPIRY_CHOICES, expiryText, isExpired, SCOPES, sortTokens, tokenRequest, withoutToken, withToken } from "./tokens";

const token = (id: number, overrides: Partial<ApiToken> = {}): ApiToken => ({
  id,
  name: `token ${id}`,
  scopes: ["read"],
  prefix: "slw_abcdefgh",
  created_at: "2026-12-01T12:00:00Z",
  last_used_at: null,
  expires_at: null,
  ...overrides,
});

describe("tokenRequest", () => {
  it("trims the name and lists the scopes in a fixed order", () => {
    expect(tokenRequest("  CI deploy ", new Set(["deploy", "read"] as const), 90)).toEqual({
      request: { name: "CI deploy", scopes: ["read", "deploy"], expires_in_days: 90 },
    });
  });
  it("leaves the expiry out for a token that never expires", () => {
    expect(tokenRequest("laptop", ["admin"], null)).toEqual({ request: { name: "laptop", scopes: ["admin"] } });
  });
  it("explains a missing name, a name too long and no scope", () => {
    expect(tokenRequest("   ", ["read"], 30)).toEqual({ error: expect.stringMatching(/name/) });
    expect(tokenRequest("x".repeat(101), ["read"], 30)).toEqual({ error: expect.stringMatching(/at most 100/) });
    expect(tokenRequest("x".repeat(100), ["read"], 30)).toHaveProperty("request");
    expect(tokenRequest("ci", [], 30)).toEqual({ error: "Choose at least one scope." });
  });
});

describe("choices", () => {
  it("offers the three scopes and 30, 90, 365 days or never, 90 preselected", () => {
    expect(SCOPES.map((s) => s.scope)).toEqual(["read", "deploy", "admin"]);
    expect(EXPIRY_CHOICES.map((c) => c.days)).toEqual([30, 90, 365, null]);
    expect(DEFAULT_EXPIRY_DAYS).toBe(90);
  });
});

describe("expiryText", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  it("says never, when it will expire, or that it has", () => {
    expect(expiryText(token(1), now)).toBe("Never");
    expect(expiryText(token(1, { expires_at: "2027-03-01T12:00:00Z" }), now)).toMatch(/^in 3 months \(/);
    expect(expiryText(token(1, { expires_at: "2026-11-29T12:00:00Z" }), now)).toBe("Expired 2 days ago");
    expect(isExpired(token(1, { expires_at: "2026-12-01T12:00:00Z" }), now)).toBe(true);
    expect(isExpired(token(1), now)).toBe(false);
  });
});

describe("the list", () => {
  it("shows the newest first", () => {
    expect(sortTokens([token(1), token(3), token(2)]).map((t) => t.id)).toEqual([3, 2, 1]);
  });
  it("adds a created token without its value, and removes a revoked one", () => {
    const added = withToken([token(1)], token(2, { token: "slw_secret" }));
    expect(added.map((t) => t.id)).toEqual([1, 2]);
    expect(added[1]).not.toHaveProperty("token");
    expect(withoutToken(added, 1).map((t) => t.id)).toEqual([2]);
    expect(withoutToken(undefined, 1)).toEqual([]);
  });
});
