"""The build page with 100,000 stored log lines, in Chromium: time to first render, time until
every line is loaded, and frame times while scrolling to the end.

Run on demand: ./scripts/test tests/bench/bench_log_page.py -s
Goal (issue 8): first lines visible < 1 s, scrolling stays smooth (frames < 50 ms).

The real Slipway serves the built dashboard; the local administrator signs in through the
dashboard, and a finished build of theirs gets 100,000 lines written straight to the database
(one COPY). Every time is measured inside the page with `performance.now()`, whose origin is the
navigation start of `/builds/<id>`:
- first line in the DOM: a MutationObserver (installed before the page's scripts run) sees the
  first `.log-line` inside `[data-testid=log-view]`, and checks it lies in the scroller's view;
- first line visible: the first paint after that (a `setTimeout(0)` queued from the next
  `requestAnimationFrame` callback runs once that frame is painted);
- all loaded: the toolbar's count reads "100,000 lines" (then the paint after it).
Frame time is the gap between consecutive `requestAnimationFrame` callbacks while the page
scrolls `[data-testid=log-view]`: by `scrollTop` increments, one a frame, from the top to the end;
by real mouse-wheel notches (Playwright's mouse, i.e. Chromium's input pipeline) from the
middle; and in a single jump from the top to the end. Benchmarks print; only the page working
(the last line rendered at the end, no console errors) is asserted.
"""

from __future__ import annotations

import math
import os
import random
import time

import pytest

from sql.build_logs import store_lines
from sql.projects import insert_project
from tests.support.browser import PageErrors, sign_in_local_admin

LINES = 100_000
FIRST_RENDER_GOAL_MS = 1000
FRAME_GOAL_MS = 50
SCROLL_FRAMES = 600
"""The top-to-end scroll takes this many frames (about 10 s at 60 frames a second)."""
WHEEL_NOTCHES = 200
WHEEL_DELTA = 100

# Installed before the page's own scripts; records into `window.__bench`.
INSTRUMENT = """
(() => {
  const bench = (window.__bench = {
    firstLineInDom: null, firstLinePainted: null, firstLineNumber: null, firstLineInView: null,
    allLoaded: null, allPainted: null, longTasks: [],
  });
  const afterPaint = (record) => requestAnimationFrame(() => setTimeout(record, 0));
  const observer = new MutationObserver(() => {
    if (bench.firstLineInDom === null) {
      const scroller = document.querySelector("[data-testid=log-view]");
      const line = scroller && scroller.querySelector(".log-line");
      if (line) {
        bench.firstLineInDom = performance.now();
        const box = line.getBoundingClientRect();
        const view = scroller.getBoundingClientRect();
        bench.firstLineInView = box.height > 0 && box.bottom > view.top && box.top < view.bottom;
        bench.firstLineNumber = Number(line.dataset.line);
        afterPaint(() => { bench.firstLinePainted = performance.now(); });
      }
    }
    if (bench.allLoaded === null) {
      const count = document.querySelector(".log-actions .muted");
      if (count && count.textContent === "__COUNT__") {
        bench.allLoaded = performance.now();
        afterPaint(() => { bench.allPainted = performance.now(); });
      }
    }
    if (bench.firstLineInDom !== null && bench.allLoaded !== null) observer.disconnect();
  });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
  new PerformanceObserver((list) => {
    for (const task of list.getEntries()) {
      bench.longTasks.push({ start: task.startTime, duration: task.duration });
    }
  }).observe({ type: "longtask", buffered: true });
  // Where a long frame's time went: scripts (and which), style and layout, the rest.
  bench.longFrames = [];
  new PerformanceObserver((list) => {
    for (const f of list.getEntries()) {
      const scripts = f.scripts.map((s) => ({
        ms: s.duration, what: `${s.invoker} ${s.sourceFunctionName || ""}`.trim(),
        layout: s.forcedStyleAndLayoutDuration,
      }));
      bench.longFrames.push({
        start: f.startTime, duration: f.duration, blocking: f.blockingDuration,
        render: f.renderStart ? f.startTime + f.duration - f.renderStart : 0,
        styleLayout: f.styleAndLayoutStart ? f.startTime + f.duration - f.styleAndLayoutStart : 0,
        scripts,
      });
    }
  }).observe({ type: "long-animation-frame", buffered: true });
  bench.nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  // The log view scrolled to its top, two frames later (rendered and painted there).
  bench.logViewAtTop = async () => {
    const el = document.querySelector("[data-testid=log-view]");
    el.scrollTop = 0;
    await bench.nextFrame();
    await bench.nextFrame();
    return el;
  };
  // A frame recorder that spans several evaluate calls (the wheel phase is driven from Python).
  bench.recordFrames = () => {
    const deltas = [];
    let last = null;
    let on = true;
    const tick = (t) => {
      if (!on) return;
      if (last !== null) deltas.push(t - last);
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    bench.stopFrames = () => { on = false; return deltas; };
  };
})();
""".replace("__COUNT__", f"{LINES:,} lines")

LOAD_FIGURES = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const logPages = resources.filter((r) => /\\/api\\/builds\\/\\d+\\/logs/.test(r.name));
  const build = resources.find((r) => /\\/api\\/builds\\/\\d+$/.test(r.name));
  const scripts = resources.filter((r) => r.initiatorType === "script" || /\\.js$/.test(r.name));
  const scroller = document.querySelector("[data-testid=log-view]");
  return {
    bench: window.__bench,
    documentEnd: nav.responseEnd,
    domContentLoaded: nav.domContentLoadedEventEnd,
    scriptEnd: Math.max(0, ...scripts.map((r) => r.responseEnd)),
    buildEnd: build ? build.responseEnd : null,
    logPages: logPages.map((r) => ({
      start: r.startTime, end: r.responseEnd, bytes: r.encodedBodySize, size: r.decodedBodySize,
    })),
    viewHeight: scroller.clientHeight,
    userAgent: navigator.userAgent,
  };
}
"""

SCROLL_TO_END = """
async (frames) => {
  const el = await window.__bench.logViewAtTop();
  const frame = window.__bench.nextFrame;
  const rowHeight = el.querySelector(".log-line").getBoundingClientRect().height;
  const end = el.scrollHeight - el.clientHeight;
  const deltas = [];
  let behind = 0;
  let last = await frame();
  for (let i = 1; i <= frames; i++) {
    el.scrollTop = Math.round((end * i) / frames);
    const t = await frame();
    deltas.push(t - last);
    last = t;
    // By the next frame the scroll event has re-rendered the window: the row at the top of
    // the view must be in the DOM.
    const top = Math.floor(el.scrollTop / rowHeight) + 1;
    if (!el.querySelector(`.log-line[data-line="${top}"]`)) behind++;
  }
  return { deltas, behind, step: end / frames, rowHeight };
}
"""

START_AT_MIDDLE = """
async () => {
  const el = document.querySelector("[data-testid=log-view]");
  el.scrollTop = Math.round((el.scrollHeight - el.clientHeight) / 2);
  await window.__bench.nextFrame();
  await window.__bench.nextFrame();
  window.__bench.wheelFrom = el.scrollTop;
  window.__bench.recordFrames();
}
"""

STOP_WHEEL = """
async () => {
  // Let the last notches' smooth scrolling finish.
  for (let i = 0; i < 30; i++) await window.__bench.nextFrame();
  const el = document.querySelector("[data-testid=log-view]");
  return { deltas: window.__bench.stopFrames(), moved: el.scrollTop - window.__bench.wheelFrom };
}
"""

JUMP_TO_END = """
async (last) => {
  const el = await window.__bench.logViewAtTop();
  const frame = window.__bench.nextFrame;
  const deltas = [];
  let previous = await frame();
  const start = performance.now();
  el.scrollTop = el.scrollHeight;
  let inDom = null;
  for (let i = 0; i < 30 || inDom === null; i++) {
    const t = await frame();
    deltas.push(t - previous);
    previous = t;
    if (inDom === null && el.querySelector(`.log-line[data-line="${last}"]`)) {
      inDom = performance.now() - start;
    }
    if (i > 600) break;
  }
  const row = el.querySelector(`.log-line[data-line="${last}"]`);
  const box = row && row.getBoundingClientRect();
  const view = el.getBoundingClientRect();
  return {
    deltas, inDom,
    lastInView: !!box && box.top >= view.top - 1 && box.bottom <= view.bottom + 1,
    atBottom: el.scrollTop + el.clientHeight >= el.scrollHeight - 1,
  };
}
"""

_WORDS = ("resolve", "compile", "bundle", "chunk", "module", "asset", "route", "render",
          "cache", "layout", "image", "font", "style", "worker", "manifest", "schema")
_PACKAGES = ("react", "lodash", "webpack", "esbuild", "postcss", "typescript", "rollup",
             "@babel/core", "tailwindcss", "eslint", "vite", "sharp", "next", "zod")


def _log_rows(count: int, seed: int = 8) -> list[tuple[int, str, str]]:
    """A build log as a Node build prints it: mostly short stdout lines, some long ones (stack
    frames, minified JSON), about one line in six coloured, one in eight on stderr."""
    rng = random.Random(seed)

    def path() -> str:
        return "/".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))

    def stdout() -> str:
        kind = rng.random()
        if kind < 0.30:
            return f"[{rng.randint(1, 999)}/999] Compiling src/{path()}.tsx"
        if kind < 0.45:
            return (f"\x1b[32m✓\x1b[39m {rng.randint(10, 5000)} modules transformed in "
                    f"\x1b[1m{rng.randint(1, 900)}ms\x1b[22m")
        if kind < 0.60:
            return (f"dist/assets/{rng.choice(_WORDS)}-{rng.getrandbits(32):08x}.js"
                    f"{' ' * rng.randint(1, 30)}{rng.uniform(0.1, 900):7.2f} kB │ gzip: "
                    f"{rng.uniform(0.1, 300):6.2f} kB")
        if kind < 0.70:
            return (f"    at {rng.choice(_WORDS)}{rng.choice(_WORDS).title()} (/app/node_modules/"
                    f"{rng.choice(_PACKAGES)}/dist/{path()}.js:{rng.randint(1, 9999)}:"
                    f"{rng.randint(1, 200)})")
        if kind < 0.75:
            fields = ",".join(f'"{rng.choice(_WORDS)}{n}":{rng.randint(0, 10**6)}'
                              for n in range(rng.randint(10, 40)))
            return "{" + fields + "}"
        if kind < 0.80:
            return ""
        if kind < 0.85:
            return (f"\x1b[2m{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
                    f"{rng.randint(0, 59):02d}\x1b[22m \x1b[36m\x1b[1m[build]\x1b[22m\x1b[39m "
                    f"{rng.choice(_WORDS)} {path()}")
        return (f"{rng.choice(_WORDS)}: {' '.join(rng.choice(_WORDS) for _ in range(3, 18))}")

    def stderr() -> str:
        kind = rng.random()
        if kind < 0.4:
            return (f"npm warn deprecated {rng.choice(_PACKAGES)}@{rng.randint(0, 9)}."
                    f"{rng.randint(0, 20)}.{rng.randint(0, 9)}: This version is no longer "
                    "supported")
        if kind < 0.7:
            return (f"\x1b[33mwarning\x1b[39m {rng.choice(_PACKAGES)} > "
                    f"{rng.choice(_PACKAGES)}: unmet peer dependency in src/{path()}.ts")
        return (f"\x1b[31m\x1b[1merror\x1b[22m\x1b[39m TS{rng.randint(2000, 7999)}: Type "
                f"'{rng.choice(_WORDS)}' is not assignable to type '{rng.choice(_WORDS)}'.")

    def run_stdout() -> str:
        return (f"GET /{path()} {rng.choice((200, 200, 200, 304, 404))} "
                f"{rng.randint(1, 400)}ms - {rng.randint(100, 90000)} bytes")

    def run_stderr() -> str:
        return f"\x1b[31mError\x1b[39m: ENOENT: no such file '/srv/{path()}.html'"

    def system() -> str:
        return rng.choice(("Restoring the build cache", "Installing dependencies: npm install",
                           "Running the build command: npm run build",
                           f"Publishing {rng.randint(3, 900)} files from dist/"))

    streams = (("build_stdout", stdout, 0.80), ("build_stderr", stderr, 0.10),
               ("run_stdout", run_stdout, 0.06), ("run_stderr", run_stderr, 0.02),
               ("system", system, 0.02))
    names = [name for name, _, _ in streams]
    weights = [weight for _, _, weight in streams]
    makers = {name: make for name, make, _ in streams}
    rows = [(1, "system", "Cloning the repository (main)")]
    for number in range(2, count + 1):
        stream = rng.choices(names, weights)[0]
        rows.append((number, stream, makers[stream]()))
    return rows


async def _finished_build(pool, owner_id: int, lines: int) -> int:
    """A project of `owner_id` with one passed build holding `lines` stored log lines."""
    async with pool.connection() as conn:
        project_id = await insert_project(conn, owner_id, {
            "name": "big-log", "repo_url": "https://github.com/ada/big-log"})
        cursor = await conn.execute(
            "INSERT INTO builds (project_id, status, trigger, branch, commit_sha, "
            "commit_message, commit_author, exit_code, started_at, finished_at) "
            "VALUES (%s, 'passed', 'push', 'main', %s, 'A build with a long log', 'Ada', 0, "
            "now() - interval '7 minutes', now()) RETURNING id",
            (project_id, "ab" * 20))
        (build_id,) = await cursor.fetchone()
        await store_lines(conn, build_id, _log_rows(lines))
    return build_id


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def _frame_summary(deltas: list[float]) -> str:
    ordered = sorted(deltas)
    # Frames come at display intervals (16.7 ms): three intervals read 49.9 to 50.1 ms, and all
    # of them miss "< 50 ms".
    over = sum(1 for d in ordered if d >= FRAME_GOAL_MS - 0.5)
    verdict = "met" if over == 0 else "MISSED"
    return (f"{len(ordered)} frames: p50 {_percentile(ordered, 0.5):.1f} ms, "
            f"p95 {_percentile(ordered, 0.95):.1f}, p99 {_percentile(ordered, 0.99):.1f}, "
            f"max {ordered[-1]:.1f}; >= {FRAME_GOAL_MS} ms: {over} ({verdict})")


async def _take_long_frames(page) -> list[dict]:
    """The long animation frames (> 50 ms of main-thread work) since the last call."""
    return await page.evaluate(
        "() => { const f = window.__bench.longFrames; window.__bench.longFrames = []; return f; }")


def _report_long_frames(frames: list[dict]) -> None:
    for frame in sorted(frames, key=lambda f: -f["duration"])[:5]:
        scripts = sorted(frame["scripts"], key=lambda s: -s["ms"])
        script_ms = sum(s["ms"] for s in scripts)
        top = f" (longest: {scripts[0]['what']} {scripts[0]['ms']:.0f} ms)" if scripts else ""
        print(f"      long frame {frame['duration']:.0f} ms: scripts {script_ms:.0f} ms{top}, "
              f"rendering {frame['render']:.0f} ms (style and layout "
              f"{frame['styleLayout']:.0f} ms)")


def _report_load(figures: dict) -> None:
    bench = figures["bench"]
    pages = figures["logPages"]
    first_visible = bench["firstLinePainted"]
    verdict = "met" if first_visible < FIRST_RENDER_GOAL_MS else "MISSED"
    print(f"\n{figures['userAgent']}")
    print(f"build page, {LINES:,} stored lines, log view {figures['viewHeight']} px high "
          f"(all times from navigation start of /builds/<id>):")
    print(f"  first line visible (painted):   {first_visible:7.0f} ms   goal < "
          f"{FIRST_RENDER_GOAL_MS} ms: {verdict}")
    print(f"    first .log-line in the DOM:   {bench['firstLineInDom']:7.0f} ms   (line "
          f"{bench['firstLineNumber']}, in the view: {bench['firstLineInView']})")
    print(f"    document received {figures['documentEnd']:.0f} ms, scripts "
          f"{figures['scriptEnd']:.0f} ms, DOMContentLoaded {figures['domContentLoaded']:.0f} "
          f"ms, build JSON {figures['buildEnd'] or float('nan'):.0f} ms")
    if pages:
        first = pages[0]
        print(f"    first log page requested {first['start']:.0f} ms, received "
              f"{first['end']:.0f} ms ({first['size'] / 1024:.0f} KiB JSON)")
    print(f"  all {LINES:,} lines loaded:       {bench['allLoaded']:7.0f} ms   (painted "
          f"{bench['allPainted']:.0f} ms; {len(pages)} log pages, "
          f"{sum(p['size'] for p in pages) / 1024**2:.1f} MiB JSON, "
          f"{sum(p['bytes'] for p in pages) / 1024**2:.1f} MiB on the wire)")
    if pages:
        # One request at a time: the gaps are the page's own work on each answer (JSON
        # parsing, merging, rendering).
        waiting = sum(p["end"] - p["start"] for p in pages)
        span = pages[-1]["end"] - pages[0]["start"]
        print(f"    from the first log request to the last answer {span:.0f} ms: waiting for "
              f"answers {waiting:.0f} ms, the page's work between them {span - waiting:.0f} ms")
    tasks = [t for t in bench["longTasks"] if t["start"] <= bench["allPainted"]]
    if tasks:
        longest = max(t["duration"] for t in tasks)
        print(f"    main-thread tasks over 50 ms while loading: {len(tasks)}, "
              f"{sum(t['duration'] for t in tasks):.0f} ms in total, longest {longest:.0f} ms")


@pytest.mark.gen_test(timeout=600)
async def test_build_page_with_100000_lines(slipway_factory, new_page):
    app = await slipway_factory()
    page = await new_page(locale="en-US")
    errors = PageErrors.watch(page)
    session = await sign_in_local_admin(page, app)
    started = time.perf_counter()
    build_id = await _finished_build(app.running.app.db.pool, session["user"]["id"], LINES)
    print(f"\nstored {LINES:,} log lines in {time.perf_counter() - started:.2f} s; load "
          f"average {os.getloadavg()[0]:.2f} (other work on the machine shows in the figures)")

    await page.add_init_script(INSTRUMENT)
    await page.goto(f"{app.url}/builds/{build_id}")
    await page.wait_for_function("() => window.__bench.allPainted !== null", timeout=120_000)
    _report_load(await page.evaluate(LOAD_FIGURES))

    print(f"scrolling [data-testid=log-view] (frame time: between requestAnimationFrame "
          f"callbacks; goal < {FRAME_GOAL_MS} ms):")
    await _take_long_frames(page)
    down = await page.evaluate(SCROLL_TO_END, SCROLL_FRAMES)
    print(f"  top to end, scrollTop += {down['step']:.0f} px a frame: "
          f"{_frame_summary(down['deltas'])}")
    print(f"    frames whose top row was not yet rendered by the next frame: {down['behind']}")
    _report_long_frames(await _take_long_frames(page))

    view = page.locator("[data-testid=log-view]")
    box = await view.bounding_box()
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.evaluate(START_AT_MIDDLE)
    for _ in range(WHEEL_NOTCHES):
        await page.mouse.wheel(0, WHEEL_DELTA)
    wheel = await page.evaluate(STOP_WHEEL)
    print(f"  mouse wheel, {WHEEL_NOTCHES} notches of {WHEEL_DELTA} px from the middle "
          f"(moved {wheel['moved']:.0f} px): {_frame_summary(wheel['deltas'])}")
    _report_long_frames(await _take_long_frames(page))

    jump = await page.evaluate(JUMP_TO_END, LINES)
    print(f"  one jump from the top to the end: line {LINES:,} in the DOM after "
          f"{jump['inDom']:.0f} ms; {_frame_summary(jump['deltas'])}")
    _report_long_frames(await _take_long_frames(page))

    assert jump["atBottom"] and jump["lastInView"], jump
    await view.locator(f'.log-line[data-line="{LINES}"]').wait_for(state="visible")
    errors.assert_none()
