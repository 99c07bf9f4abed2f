/**
 * The lines of one build's log, merged from two sources that overlap: stored lines fetched
 * page by page (`GET /api/builds/{id}/logs?after=`) and live lines pushed over Socket.io.
 *
 * Line numbers are one increasing sequence per build, and the server stores a line before it
 * sends it. So a viewer keeps lines in number order, drops any number it already has, and when
 * live lines arrive beyond a hole (it was disconnected, or connected late) it holds them back
 * and fetches the stored lines after its last one. The result has no gap and no duplicate.
 */

export type LogStream = "system" | "build_stdout" | "build_stderr" | "run_stdout" | "run_stderr";

export interface LogLine {
  lineNumber: number;
  stream: LogStream | string;
  log: string;
}

export class LogBuffer {
  readonly lines: LogLine[] = [];
  private pending: LogLine[] = [];
  private fetching = false;

  /** The highest line number held (0 when empty): the `after` of the next catch-up fetch. */
  get last(): number {
    return this.lines.length ? this.lines[this.lines.length - 1].lineNumber : 0;
  }

  /** A fetch of stored lines starts: live lines wait until it ends. */
  beginFetch(): void {
    this.fetching = true;
  }

  /** Stored lines from a fetch page (in order). Returns how many were new. */
  addStored(lines: readonly LogLine[]): number {
    return this.append(lines);
  }

  /**
   * The fetch has ended (every page read, or it failed). Held live lines are applied.
   * Returns true when a hole remains before them, so another fetch is needed.
   */
  endFetch(): boolean {
    this.fetching = false;
    const held = this.pending.sort((a, b) => a.lineNumber - b.lineNumber);
    this.pending = [];
    return this.addLive(held);
  }

  /**
   * Live lines from an event. Returns true when they start beyond a hole: they are held and
   * the caller should fetch stored lines after `last` (then call `endFetch`).
   */
  addLive(lines: readonly LogLine[]): boolean {
    if (!lines.length) return false;
    if (this.fetching) {
      this.pending.push(...lines);
      return false;
    }
    const fresh = lines.filter((line) => line.lineNumber > this.last);
    if (!fresh.length) return false;
    fresh.sort((a, b) => a.lineNumber - b.lineNumber);
    if (fresh[0].lineNumber > this.last + 1) {
      this.pending.push(...fresh);
      return true;
    }
    this.append(fresh);
    return false;
  }

  /** Whether live lines are being held back, waiting for a fetch. */
  get holding(): boolean {
    return this.pending.length > 0;
  }

  private append(lines: readonly LogLine[]): number {
    let added = 0;
    for (const line of lines) {
      if (line.lineNumber > this.last) {
        this.lines.push(line);
        added++;
      }
    }
    return added;
  }
}

/** The stored stream of a live event's lines (the event name says which stream they came on). */
export const EVENT_STREAMS: Record<string, LogStream> = {
  build_logs: "build_stdout",
  build_errors: "build_stderr",
  run_logs: "run_stdout",
  run_error: "run_stderr",
};

export function isErrorStream(stream: string): boolean {
  return stream.endsWith("stderr");
}
