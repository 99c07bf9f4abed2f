import { describe, expect, it } from "vitest";
import { formatDuration, timeAgo } from "./time";

describe("times", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");

  it("says how long ago something happened", () => {
    expect(timeAgo("2026-12-01T11:59:50Z", now)).toBe("just now");
    expect(timeAgo("2026-12-01T11:57:00Z", now)).toMatch(/3 minutes ago/);
    expect(timeAgo("2026-11-29T12:00:00Z", now)).toMatch(/2 days ago/);
    expect(timeAgo(null, now)).toBe("—");
  });

  it("formats build durations", () => {
    expect(formatDuration("2026-12-01T11:59:18Z", "2026-12-01T12:00:00Z")).toBe("42s");
    expect(formatDuration("2026-12-01T11:56:55Z", "2026-12-01T12:00:00Z")).toBe("3m 05s");
    expect(formatDuration("2026-12-01T11:00:00Z", null, now)).toBe("1h 00m");
    expect(formatDuration(null, null)).toBe("—");
  });
});
