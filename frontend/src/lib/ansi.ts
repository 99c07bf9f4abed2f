/**
 * Build output keeps its terminal colours: ANSI escape sequences become styled segments.
 * Parsing is done by `anser`; this module only shapes its output for rendering and search.
 */
import Anser from "anser";

export interface AnsiSegment {
  text: string;
  color?: string;
  background?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

// Control sequences that are not colours (cursor moves, erase line, OSC titles/links).
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** Split a line into styled segments; plain lines become one unstyled segment. */
export function parseAnsi(line: string): AnsiSegment[] {
  if (!line.includes("\x1b")) return [{ text: line }];
  const parts = Anser.ansiToJson(line, { use_classes: false, remove_empty: true });
  const segments: AnsiSegment[] = [];
  for (const part of parts) {
    const text = part.content;
    if (!text) continue;
    const decorations = part.decorations ?? [];
    let fg = part.fg ? `rgb(${part.fg})` : undefined;
    let bg = part.bg ? `rgb(${part.bg})` : undefined;
    // `isInverted` is set by anser but missing from its type declarations.
    if ((part as { isInverted?: boolean }).isInverted) [fg, bg] = [bg ?? "var(--log-bg)", fg ?? "var(--log-fg)"];
    const segment: AnsiSegment = { text };
    if (fg) segment.color = fg;
    if (bg) segment.background = bg;
    if (decorations.includes("bold")) segment.bold = true;
    if (decorations.includes("dim")) segment.dim = true;
    if (decorations.includes("italic")) segment.italic = true;
    if (decorations.includes("underline")) segment.underline = true;
    segments.push(segment);
  }
  return segments.length ? segments : [{ text: stripAnsi(line) }];
}

/** The text a person reads: every escape sequence removed (for search and download). */
export function stripAnsi(line: string): string {
  return line.includes("\x1b") ? line.replace(ESCAPES, "") : line;
}
