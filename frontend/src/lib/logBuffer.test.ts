import { describe, expect, it } from "vitest";
import { LogBuffer, type LogLine } from "./logBuffer";

const line = (n: number, stream = "run_stdout"): LogLine => ({ lineNumber: n, stream, log: `line ${n}` });
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => line(from + i));
const numbers = (buffer: LogBuffer) => buffer.lines.map((l) => l.lineNumber);

describe("LogBuffer", () => {
  it("replays stored lines, then follows live ones without duplicates", () => {
    const buffer = new LogBuffer();
    buffer.beginFetch();
    // Live lines arrive while the replay is still being fetched; some overlap stored ones.
    expect(buffer.addLive(range(4, 6))).toBe(false);
    buffer.addStored(range(1, 5));
    expect(buffer.endFetch()).toBe(false);
    expect(numbers(buffer)).toEqual([1, 2, 3, 4, 5, 6]);
    buffer.addLive(range(7, 8));
    buffer.addLive(range(7, 8)); // a repeated batch
    expect(numbers(buffer)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("asks for a catch-up when live lines start beyond a hole, and fills it", () => {
    const buffer = new LogBuffer();
    buffer.addStored(range(1, 3));
    // Disconnected while 4..9 were sent: the next live batch starts at 10.
    expect(buffer.addLive(range(10, 11))).toBe(true);
    expect(numbers(buffer)).toEqual([1, 2, 3]);
    expect(buffer.holding).toBe(true);
    buffer.beginFetch();
    buffer.addLive(range(12, 12));
    buffer.addStored(range(4, 10));
    expect(buffer.endFetch()).toBe(false);
    expect(numbers(buffer)).toEqual(range(1, 12).map((l) => l.lineNumber));
    expect(buffer.holding).toBe(false);
  });

  it("keeps asking while the stored lines do not yet reach the held ones", () => {
    const buffer = new LogBuffer();
    expect(buffer.addLive(range(5, 6))).toBe(true);
    buffer.beginFetch();
    buffer.addStored(range(1, 2)); // a short page: the rest was not stored yet
    expect(buffer.endFetch()).toBe(true);
    expect(numbers(buffer)).toEqual([1, 2]);
    buffer.beginFetch();
    buffer.addStored(range(3, 4));
    expect(buffer.endFetch()).toBe(false);
    expect(numbers(buffer)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("orders lines from batches of different streams that arrive out of order", () => {
    const buffer = new LogBuffer();
    buffer.beginFetch();
    buffer.addLive([line(3, "run_stderr")]);
    buffer.addLive([line(2, "run_stdout")]);
    buffer.addStored([line(1)]);
    buffer.endFetch();
    expect(numbers(buffer)).toEqual([1, 2, 3]);
    expect(buffer.lines[2].stream).toBe("run_stderr");
  });

  it("ignores stored pages that repeat lines it already has", () => {
    const buffer = new LogBuffer();
    buffer.addStored(range(1, 4));
    expect(buffer.addStored(range(3, 6))).toBe(2);
    expect(numbers(buffer)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
