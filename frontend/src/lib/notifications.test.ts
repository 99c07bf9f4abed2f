import { describe, expect, it } from "vitest";
import type { NotificationDelivery } from "../api/types";
import { deliveryOutcome, eventLabel, formProblem, formatLabel, hasPending, toggleEvent } from "./notifications";

const delivery = (overrides: Partial<NotificationDelivery> = {}): NotificationDelivery => ({
  id: 1,
  notification_id: 1,
  event: "deploy_failed",
  status: "pending",
  attempts: 0,
  response_status: null,
  error: null,
  created_at: "2026-12-01T12:00:00Z",
  next_attempt_at: "2026-12-01T12:00:10Z",
  delivered_at: null,
  ...overrides,
});

describe("formProblem", () => {
  it("accepts an http(s) URL with at least one event", () => {
    expect(formProblem(" https://hooks.slack.com/services/T/B/x ", ["deploy_failed"])).toBeNull();
    expect(formProblem("http://ci.example.com/hook", ["build_started"])).toBeNull();
  });
  it("says what is missing or wrong", () => {
    expect(formProblem("  ", ["deploy_failed"])).toBe("Enter the URL to notify.");
    expect(formProblem("ftp://example.com/x", ["deploy_failed"])).toMatch(/https:\/\//);
    expect(formProblem("https://example.com/a b", ["deploy_failed"])).toMatch(/https:\/\//);
    expect(formProblem(`https://example.com/${"x".repeat(2048)}`, ["deploy_failed"])).toMatch(/longer than 2048/);
    expect(formProblem("https://example.com/hook", [])).toBe("Choose at least one event.");
  });
});

describe("toggleEvent", () => {
  it("keeps the form's order whatever order boxes are ticked in", () => {
    const some = toggleEvent(toggleEvent([], "build_started", true), "deploy_succeeded", true);
    expect(some).toEqual(["deploy_succeeded", "build_started"]);
    expect(toggleEvent(some, "deploy_succeeded", false)).toEqual(["build_started"]);
    expect(toggleEvent(some, "build_started", true)).toEqual(["deploy_succeeded", "build_started"]);
  });
});

describe("labels", () => {
  it("names events and formats for people", () => {
    expect(eventLabel("deploy_succeeded")).toBe("Deploy succeeded");
    expect(eventLabel("test")).toBe("Test");
    expect(formatLabel("json")).toBe("JSON (signed)");
    expect(formatLabel("discord")).toBe("Discord");
  });
});

describe("deliveryOutcome", () => {
  it("tells a delivered, a retrying and a given-up delivery apart", () => {
    expect(deliveryOutcome(delivery())).toBe("Sending…");
    expect(deliveryOutcome(delivery({ status: "delivered", attempts: 2, response_status: 200 }))).toBe("HTTP 200 · 2 attempts");
    expect(deliveryOutcome(delivery({ attempts: 1, response_status: 500 }))).toBe("HTTP 500 · 1 attempt, retrying");
    expect(deliveryOutcome(delivery({ attempts: 1, error: "Connection refused" }))).toBe("Connection refused · 1 attempt, retrying");
    expect(deliveryOutcome(delivery({ status: "failed", attempts: 6, response_status: 503 }))).toBe("Gave up: HTTP 503 · 6 attempts");
  });
  it("keeps refreshing only while something is pending", () => {
    expect(hasPending([delivery({ status: "delivered" }), delivery()])).toBe(true);
    expect(hasPending([delivery({ status: "failed" })])).toBe(false);
    expect(hasPending([])).toBe(false);
  });
});
