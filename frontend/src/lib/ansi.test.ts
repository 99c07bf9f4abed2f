import { describe, expect, it } from "vitest";
import { parseAnsi, stripAnsi } from "./ansi";

describe("parseAnsi", () => {
  it("leaves plain text as one segment", () => {
    expect(parseAnsi("npm run build")).toEqual([{ text: "npm run build" }]);
  });

  it("colours and emboldens segments and resets after them", () => {
    const segments = parseAnsi("\x1b[1;31merror\x1b[0m: missing module");
    expect(segments).toHaveLength(2);
    expect(segments[0]).toMatchObject({ text: "error", bold: true });
    expect(segments[0].color).toMatch(/^rgb\(\d+, \d+, \d+\)$/);
    expect(segments[1]).toEqual({ text: ": missing module" });
  });

  it("supports 256-colour and true-colour foregrounds and backgrounds", () => {
    const [palette, truecolor] = parseAnsi("\x1b[38;5;208mA\x1b[48;2;10;20;30mB");
    expect(palette.color).toBe("rgb(255, 135, 0)");
    expect(truecolor.background).toBe("rgb(10, 20, 30)");
  });

  it("never renders escape codes as text", () => {
    const text = parseAnsi("\x1b[32m✓\x1b[39m built in \x1b[2m1.2s\x1b[22m")
      .map((s) => s.text)
      .join("");
    expect(text).toBe("✓ built in 1.2s");
  });
});

describe("stripAnsi", () => {
  it("removes colours, cursor movement and OSC sequences", () => {
    expect(stripAnsi("\x1b[2K\x1b[1G\x1b[36mvite\x1b[39m \x1b]0;title\x07ready")).toBe("vite ready");
  });
});
