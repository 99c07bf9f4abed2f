/**
 * The build log as a terminal: virtualised rows, ANSI colours, stderr marked, line links
 * (#L42), search, download, and auto-scroll that stops as soon as the user scrolls up and
 * resumes when they return to the bottom (or press "Follow").
 */
import { memo } from "preact/compat";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type AnsiSegment, parseAnsi, stripAnsi } from "../lib/ansi";
import { isErrorStream, type LogLine } from "../lib/logBuffer";
import { useVirtualRows } from "./useVirtualRows";

const ROW_HEIGHT = 20;
const segmentsCache = new WeakMap<LogLine, AnsiSegment[]>();
const plainCache = new WeakMap<LogLine, string>();

function segmentsOf(line: LogLine): AnsiSegment[] {
  let segments = segmentsCache.get(line);
  if (!segments) segmentsCache.set(line, (segments = parseAnsi(line.log)));
  return segments;
}

function plainOf(line: LogLine): string {
  let plain = plainCache.get(line);
  if (plain === undefined) plainCache.set(line, (plain = stripAnsi(line.log)));
  return plain;
}

function segmentStyle(s: AnsiSegment) {
  return {
    color: s.color,
    background: s.background,
    fontWeight: s.bold ? "bold" : undefined,
    opacity: s.dim ? 0.7 : undefined,
    fontStyle: s.italic ? "italic" : undefined,
    textDecoration: s.underline ? "underline" : undefined,
  };
}

const Row = memo(function Row({ line, selected, match, current }: { line: LogLine; selected: boolean; match: boolean; current: boolean }) {
  const error = isErrorStream(line.stream);
  const classes = ["log-line"];
  if (error) classes.push("log-line-err");
  if (line.stream === "system") classes.push("log-line-system");
  if (selected) classes.push("log-line-selected");
  if (match) classes.push("log-line-match");
  if (current) classes.push("log-line-current");
  return (
    <div class={classes.join(" ")} data-line={line.lineNumber} data-stream={line.stream}>
      <a class="log-number" href={`#L${line.lineNumber}`} aria-label={`Line ${line.lineNumber}`} tabIndex={-1}>
        {line.lineNumber}
      </a>
      {error && <span class="visually-hidden">stderr: </span>}
      <span class="log-text">
        {segmentsOf(line).map((s, i) =>
          s.color || s.background || s.bold || s.dim || s.italic || s.underline ? (
            <span key={i} style={segmentStyle(s)}>
              {s.text}
            </span>
          ) : (
            s.text
          ),
        )}
      </span>
    </div>
  );
});

interface Props {
  lines: LogLine[];
  /** Changes whenever lines were added (the array itself grows in place). */
  version: number;
  buildId: number;
  /** Follow new lines from the start (a running build); a finished one opens at the top. */
  live: boolean;
  loading: boolean;
}

export function LogView({ lines, version, buildId, live, loading }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(live);
  const [selected, setSelected] = useState<number | null>(() => lineFromHash());
  const [query, setQuery] = useState("");
  const [matchIndex, setMatchIndex] = useState(0);
  const virtual = useVirtualRows(lines.length, ROW_HEIGHT, () => scroller.current);
  const scrolledToSelection = useRef(false);

  // Rows have one fixed height, so a row's place is known without the virtualiser: setting
  // scrollTop directly works even before it has measured the view (a log loaded before the
  // view mounted), and the virtualiser follows the scroll event.
  const scrollToRow = (index: number) => {
    const el = scroller.current;
    if (!el) return;
    const target = Math.max(0, index * ROW_HEIGHT - (el.clientHeight - ROW_HEIGHT) / 2);
    el.scrollTop = target;
    // When the log was loaded before the view mounted, the virtualiser (settling its own
    // scroll state) was seen writing offset 0 right after this: put the row back once.
    requestAnimationFrame(() => {
      if (el.scrollTop === 0 && target > 0) el.scrollTop = target;
    });
  };
  const scrollToEnd = () => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  };

  // Follow the end while following; stop at a linked line once it has arrived.
  useEffect(() => {
    if (selected !== null && !following) {
      const index = indexOfLine(lines, selected);
      if (index >= 0 && !scrolledToSelection.current) {
        scrolledToSelection.current = true;
        scrollToRow(index);
      }
      return;
    }
    if (following && lines.length) {
      scrollToEnd();
    }
  }, [version, following]);
  useEffect(() => {
    if (selected !== null) setFollowing(false);
  }, []);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    // Content growing does not fire scroll events: only the user (or our own scroll to the
    // end, which lands at the bottom) does, so "at the bottom" is exactly "following".
    setFollowing(el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT);
  };

  const onClick = (event: MouseEvent) => {
    const target = event.target as HTMLElement;
    if (!target.classList.contains("log-number")) return;
    event.preventDefault();
    const n = Number(target.textContent);
    setSelected(n);
    setFollowing(false);
    history.replaceState(history.state, "", `#L${n}`);
  };

  // Search the plain text of every line; recomputed as lines arrive or the query changes.
  const matches = useMemo(() => {
    const needle = query.trim().toLowerCase();
    if (!needle) return [];
    const found: number[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (plainOf(lines[i]).toLowerCase().includes(needle)) found.push(i);
    }
    return found;
  }, [query, version]);
  const matchSet = useMemo(() => new Set(matches), [matches]);
  const currentMatch = matches.length ? matches[Math.min(matchIndex, matches.length - 1)] : -1;

  const goToMatch = (step: number) => {
    if (!matches.length) return;
    const next = (Math.min(matchIndex, matches.length - 1) + step + matches.length) % matches.length;
    setMatchIndex(next);
    setFollowing(false);
    scrollToRow(matches[next]);
  };

  useEffect(() => {
    setMatchIndex(0);
    if (matches.length) {
      setFollowing(false);
      scrollToRow(matches[0]);
    }
  }, [query]);

  const download = () => {
    const text = lines.map((line) => plainOf(line)).join("\n") + "\n";
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `slipway-build-${buildId}.log`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const items = virtual.getVirtualItems();
  return (
    <section class="log" aria-label="Build log">
      <div class="log-toolbar">
        <div class="log-search">
          <input
            type="search"
            placeholder="Search log"
            aria-label="Search log"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                goToMatch(e.shiftKey ? -1 : 1);
              }
            }}
          />
          {query.trim() && (
            <span class="muted" aria-live="polite">
              {matches.length ? `${Math.min(matchIndex, matches.length - 1) + 1} of ${matches.length}` : "No matches"}
            </span>
          )}
          <button type="button" class="button button-small" onClick={() => goToMatch(-1)} disabled={!matches.length} aria-label="Previous match">
            ↑
          </button>
          <button type="button" class="button button-small" onClick={() => goToMatch(1)} disabled={!matches.length} aria-label="Next match">
            ↓
          </button>
        </div>
        <div class="log-actions">
          <span class="muted">{lines.length.toLocaleString()} lines</span>
          <button
            type="button"
            class={following ? "button button-small button-active" : "button button-small"}
            aria-pressed={following}
            onClick={() => setFollowing(!following)}
          >
            {following ? "Following" : "Follow"}
          </button>
          <button type="button" class="button button-small" onClick={download} disabled={!lines.length}>
            Download
          </button>
        </div>
      </div>
      <div class="log-scroll" ref={scroller} onScroll={onScroll} onClick={onClick} data-testid="log-view" tabIndex={0} role="log" aria-live="off">
        {!lines.length && <p class="log-empty">{loading ? "Loading log…" : live ? "Waiting for output…" : "No output."}</p>}
        <div class="log-rows" style={{ height: `${virtual.getTotalSize()}px` }}>
          <div class="log-window" style={{ transform: `translateY(${items.length ? items[0].start : 0}px)` }}>
            {items.map((item) => {
              const line = lines[item.index];
              return (
                <Row
                  key={line.lineNumber}
                  line={line}
                  selected={line.lineNumber === selected}
                  match={matchSet.has(item.index)}
                  current={item.index === currentMatch}
                />
              );
            })}
          </div>
        </div>
      </div>
    </section>
  );
}

function lineFromHash(): number | null {
  const match = /^#L(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

function indexOfLine(lines: LogLine[], n: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const value = lines[mid].lineNumber;
    if (value === n) return mid;
    if (value < n) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
