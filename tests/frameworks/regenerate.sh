#!/usr/bin/env bash
# Recreate the framework fixtures in tests/frameworks/fixtures/ from the
# frameworks' official scaffolders, with lockfiles from real installs.
#
#   tests/frameworks/regenerate.sh            # every fixture
#   tests/frameworks/regenerate.sh nextjs pnpm  # only these
#
# Needs Node >= 22.12 on PATH (Astro 6 asks for it), npm,
# git and rsync, and the npm registry. Each fixture is scaffolded and installed
# in a scratch directory; then only the files the project's own .gitignore lets
# through are copied in (git decides, as it would for the user's first commit),
# so node_modules, build output, caches, .pnp.cjs and .yarn/cache stay out.
# A fixture's directory is replaced whole, so running this twice is harmless;
# with newer packages on the registry it gives newer lockfiles, on purpose.
#
# The scaffolders are pinned here. Where a scaffolder needs GitHub (create
# astro, nuxi init) the starter's shape is written by this script instead.
set -euo pipefail

CREATE_VITE=create-vite@9.3.0
CREATE_NEXT_APP=create-next-app@16.4.3
SV=sv@0.17.1
CREATE_DOCUSAURUS=create-docusaurus@3.10.2
ANGULAR_CLI=@angular/cli@21.2.27
CREATE_REACT_APP=create-react-app@5.1.0
PNPM_VERSION=10.34.9
YARN_VERSION=4.18.1
BUN_VERSION=1.4.5
# used only where the registry lacks platform builds of @swc/html's newest release
SWC_HTML_FALLBACK=1.16.2
# ranges for the hand-made starters (npm picks the newest match)
ASTRO5_RANGE=^5
ASTRO6_RANGE=^6
NUXT_RANGE=^4
ELEVENTY_RANGE=^3

ALL=(vite-react vite-vue vite-svelte nextjs sveltekit astro5 astro6 nuxt
     docusaurus eleventy angular create-react-app pnpm yarn bun monorepo)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST=${FIXTURES_DIR:-$HERE/fixtures}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-fixtures.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# as on a user's machine: under CI=1, pnpm and yarn refuse to write lockfiles
unset CI
export NEXT_TELEMETRY_DISABLED=1 ASTRO_TELEMETRY_DISABLED=1 NG_CLI_ANALYTICS=false
export NUXT_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 DISABLE_OPENCOLLECTIVE=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# package-lock.json without "resolved" URLs: npm ci fetches each name@version
# from whatever registry the build is configured with, integrity still checked.
export npm_config_omit_lockfile_registry_resolved=true
# a registry mirror that strips npm's signatures would fail corepack's check
export COREPACK_INTEGRITY_KEYS=0

node -e '
  const [a, b] = process.versions.node.split(".").map(Number);
  if (a < 22 || (a === 22 && b < 12)) {
    console.error("regenerate.sh needs Node >= 22.12 (found " + process.version + ")");
    process.exit(1);
  }'

say() { printf '\n=== %s\n' "$*" >&2; }

# the project's files as its first commit would hold them
publish() {
  local name=$1 src=$2 list
  list=$(mktemp)
  (
    cd "$src"
    rm -rf .git
    git init -q
    git -c core.excludesFile=/dev/null add -A
    git ls-files -z
    rm -rf .git
  ) >"$list"
  if tr '\0' '\n' <"$list" | grep -E '(^|/)(node_modules|\.git)/|(^|/)\.env($|\.)|(^|/)\.pnp\.|(^|/)\.yarn/(cache|install-state)'; then
    echo "publish $name: the files above must not be in a fixture" >&2
    exit 1
  fi
  rm -rf "${DEST:?}/$name"
  mkdir -p "$DEST/$name"
  rsync -a --from0 --files-from="$list" "$src/" "$DEST/$name/"
  rm -f "$list"
  echo "fixture $name: $(find "$DEST/$name" -type f | wc -l) files" >&2
}

vite_app() { # dir template
  npx --yes "$CREATE_VITE" "$1" --template "$2" --no-interactive --no-immediate </dev/null
}

npm_lock() { # make package-lock.json by a real install
  npm install --no-audit --no-fund
}

# make package-lock.json with package $1 held at version $2 (by a temporary
# "overrides"), package.json left as it was; then check npm ci accepts it
lock_with_pin() {
  cp package.json "$WORK/package.json.orig"
  node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
    p.overrides = { ...(p.overrides || {}), [process.argv[1]]: process.argv[2] };
    fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");' "$1" "$2"
  rm -rf node_modules package-lock.json
  npm_lock
  cp "$WORK/package.json.orig" package.json
  npm install --package-lock-only --no-audit --no-fund
  npm ci --dry-run >/dev/null
}

gen_vite() { # name template
  cd "$WORK"
  vite_app "$1" "$2"
  (cd "$1" && npm_lock)
  publish "$1" "$WORK/$1"
}
gen_vite-react() { gen_vite vite-react react-ts; }
gen_vite-vue() { gen_vite vite-vue vue-ts; }
gen_vite-svelte() { gen_vite vite-svelte svelte-ts; }

gen_nextjs() {
  cd "$WORK"
  npx --yes "$CREATE_NEXT_APP" nextjs --ts --app --no-tailwind --no-eslint --no-src-dir \
    --no-react-compiler --import-alias '@/*' --use-npm --skip-install --disable-git \
    --no-agents-md --no-agent-feedback --yes </dev/null
  cd nextjs
  # static hosting: a static export, and no build-time font download from Google.
  # The starter turns on Cache Components and Partial Prefetching, which a static
  # export refuses ("PPR cannot be enabled in export mode"): those two go.
  node - <<'EOF'
const fs = require("fs");
const edit = (file, from, to) => {
  const text = fs.readFileSync(file, "utf8");
  if (!text.includes(from)) throw new Error(`${file}: ${JSON.stringify(from)} not found`);
  fs.writeFileSync(file, text.replace(from, to));
};
let config = fs.readFileSync("next.config.ts", "utf8")
  .replace(/^ *(cacheComponents|partialPrefetching): true,\n/gm, "");
fs.writeFileSync("next.config.ts", config);
edit("next.config.ts", "const nextConfig: NextConfig = {\n", "const nextConfig: NextConfig = {\n  output: \"export\",\n");
let layout = fs.readFileSync("app/layout.tsx", "utf8");
layout = layout
  .replace(/^import \{[^}]*\} from "next\/font\/google";\n/m, "")
  .replace(/\nconst geistSans = Geist\(\{[^}]*\}\);\n/, "")
  .replace(/\nconst geistMono = Geist_Mono\(\{[^}]*\}\);\n/, "")
  .replace(/<html lang="en" className=\{`[^`]*`\}>/, '<html lang="en">');
if (/next\/font|geist(Sans|Mono)/.test(layout)) throw new Error("app/layout.tsx still uses next/font");
fs.writeFileSync("app/layout.tsx", layout);
// the fonts' CSS variables, which page.module.css uses, as plain font stacks
edit("app/globals.css", ":root {\n", ":root {\n  --font-geist-sans: Arial, Helvetica, sans-serif;\n  --font-geist-mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;\n");
EOF
  mkdir -p app/about
  cat >app/about/page.tsx <<'EOF'
import type { Metadata } from "next";
import Link from "next/link";

export const metadata: Metadata = {
  title: "About",
};

export default function About() {
  return (
    <main style={{ padding: "4rem 2rem" }}>
      <h1>About</h1>
      <p>A second page, so the static export has more than one.</p>
      <p>
        <Link href="/">Back home</Link>
      </p>
    </main>
  );
}
EOF
  npm_lock
  publish nextjs "$WORK/nextjs"
}

gen_sveltekit() {
  cd "$WORK"
  npx --yes "$SV" create sveltekit --template minimal --types ts --no-add-ons --no-install </dev/null
  cd sveltekit
  # the documented static setup: adapter-static (sv's own add-on picks the
  # version that fits this kit and edits the config), every page prerendered
  npx --yes "$SV" add 'sveltekit-adapter=adapter:static' --no-install </dev/null
  cat >src/routes/+layout.ts <<'EOF'
export const prerender = true;
EOF
  mkdir -p src/routes/about
  cat >src/routes/about/+page.svelte <<'EOF'
<h1>About</h1>
<p>A second route, prerendered like the first.</p>
<p><a href="/">Back home</a></p>
EOF
  npm_lock
  publish sveltekit "$WORK/sveltekit"
}

# Astro's "minimal" template, as `npm create astro -- --template minimal` makes it
gen_astro() { # name range node-engines(or empty)
  local name=$1 range=$2 engines=$3
  mkdir -p "$WORK/$name" && cd "$WORK/$name"
  node - "$name" "$engines" <<'EOF'
const fs = require("fs");
const [name, engines] = process.argv.slice(2);
const pkg = { name, type: "module", version: "0.0.1" };
if (engines) pkg.engines = { node: engines };
pkg.scripts = { dev: "astro dev", build: "astro build", preview: "astro preview", astro: "astro" };
fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");
EOF
  cat >astro.config.mjs <<'EOF'
// @ts-check
import { defineConfig } from 'astro/config';

// https://astro.build/config
export default defineConfig({});
EOF
  cat >tsconfig.json <<'EOF'
{
  "extends": "astro/tsconfigs/strict",
  "include": [".astro/types.d.ts", "**/*"],
  "exclude": ["dist"]
}
EOF
  cat >.gitignore <<'EOF'
# build output
dist/

# generated types
.astro/

# dependencies
node_modules/

# logs
npm-debug.log*
yarn-debug.log*
yarn-error.log*
pnpm-debug.log*

# environment variables
.env
.env.production

# macOS-specific files
.DS_Store

# jetbrains setting folder
.idea/
EOF
  mkdir -p src/pages public
  cat >public/favicon.svg <<'EOF'
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 3 6 29h5l5-14 5 14h5z"/><style>path{fill:#000}@media (prefers-color-scheme:dark){path{fill:#fff}}</style></svg>
EOF
  page() { # file title body
    cat >"$1" <<EOF
---

---

<html lang="en">
	<head>
		<meta charset="utf-8" />
		<link rel="icon" type="image/svg+xml" href="/favicon.svg" />
		<meta name="viewport" content="width=device-width" />
		<meta name="generator" content={Astro.generator} />
		<title>$2</title>
	</head>
	<body>
		$3
	</body>
</html>
EOF
  }
  page src/pages/index.astro Astro '<h1>Astro</h1>
		<p><a href="/about">About</a></p>'
  page src/pages/about.astro About '<h1>About</h1>
		<p><a href="/">Back home</a></p>'
  npm install --no-audit --no-fund "astro@$range"
  publish "$name" "$WORK/$name"
}
gen_astro5() { gen_astro astro5 "$ASTRO5_RANGE" ""; }
gen_astro6() { gen_astro astro6 "$ASTRO6_RANGE" ">=22.12.0"; }

# Nuxt 4's starter (nuxt/starter, branch v4), as `npm create nuxt` makes it:
# app/app.vue with the welcome component, no pages/. (With app/pages/, Nuxt
# 4.5.2 under Vite 8.4 fails to build the server bundle:
# EXTERNAL_MODULES_CANNOT_BE_TRANSFORMED_TO_MODULES for unctx; Vite 8.3 builds it.)
gen_nuxt() {
  mkdir -p "$WORK/nuxt" && cd "$WORK/nuxt"
  cat >package.json <<'EOF'
{
  "name": "nuxt-app",
  "type": "module",
  "private": true,
  "scripts": {
    "build": "nuxt build",
    "dev": "nuxt dev",
    "generate": "nuxt generate",
    "preview": "nuxt preview",
    "postinstall": "nuxt prepare"
  }
}
EOF
  cat >nuxt.config.ts <<'EOF'
// https://nuxt.com/docs/api/configuration/nuxt-config
export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  devtools: { enabled: true }
})
EOF
  cat >tsconfig.json <<'EOF'
{
  // https://nuxt.com/docs/guide/concepts/typescript
  "files": [],
  "references": [
    {
      "path": "./.nuxt/tsconfig.app.json"
    },
    {
      "path": "./.nuxt/tsconfig.server.json"
    },
    {
      "path": "./.nuxt/tsconfig.shared.json"
    },
    {
      "path": "./.nuxt/tsconfig.node.json"
    }
  ]
}
EOF
  cat >.gitignore <<'EOF'
# Nuxt dev/build outputs
.output
.data
.nuxt
.nitro
.cache
dist

# Node dependencies
node_modules

# Logs
logs
*.log

# Misc
.DS_Store
.fleet
.idea

# Local env files
.env
.env.*
!.env.example
EOF
  mkdir -p app public
  cat >app/app.vue <<'EOF'
<template>
  <div>
    <NuxtRouteAnnouncer />
    <NuxtWelcome />
  </div>
</template>
EOF
  cat >public/robots.txt <<'EOF'
User-Agent: *
Disallow:
EOF
  npm install --no-audit --no-fund "nuxt@$NUXT_RANGE" vue vue-router
  publish nuxt "$WORK/nuxt"
}

gen_docusaurus() {
  cd "$WORK"
  npx --yes "$CREATE_DOCUSAURUS" docusaurus classic --typescript --skip-install \
    --package-manager npm </dev/null
  cd docusaurus
  npm_lock
  if ! npm ci --dry-run >/dev/null 2>&1; then
    # A registry mirror that lacks some platform builds of @swc/html's newest
    # release makes npm leave them out of the lockfile, and npm ci then refuses
    # it ("Missing: @swc/html-darwin-arm64@ from lock file"). Lock the newest
    # release the mirror has whole instead; package.json stays as generated.
    lock_with_pin @swc/html "$SWC_HTML_FALLBACK"
  fi
  publish docusaurus "$WORK/docusaurus"
}

# Eleventy's getting-started shape: no scaffolder, a package.json and a few pages
gen_eleventy() {
  mkdir -p "$WORK/eleventy" && cd "$WORK/eleventy"
  cat >package.json <<'EOF'
{
  "name": "eleventy-site",
  "version": "1.0.0",
  "private": true,
  "type": "module",
  "scripts": {
    "build": "eleventy",
    "start": "eleventy --serve"
  }
}
EOF
  cat >eleventy.config.js <<'EOF'
export default function (eleventyConfig) {
  eleventyConfig.ignores.add("README.md");
}
EOF
  cat >.gitignore <<'EOF'
node_modules/
_site/
EOF
  mkdir -p _includes
  cat >_includes/layout.njk <<'EOF'
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{ title }}</title>
  </head>
  <body>
    <nav><a href="/">Home</a> · <a href="/about/">About</a></nav>
    <main>
      {{ content | safe }}
    </main>
  </body>
</html>
EOF
  cat >index.md <<'EOF'
---
layout: layout.njk
title: Home
---
# Eleventy

A page written in Markdown.
EOF
  cat >about.md <<'EOF'
---
layout: layout.njk
title: About
---
# About

A second page.
EOF
  npm install --no-audit --no-fund "@11ty/eleventy@$ELEVENTY_RANGE"
  publish eleventy "$WORK/eleventy"
}

gen_angular() {
  cd "$WORK"
  npx --yes "$ANGULAR_CLI" new angular --defaults --skip-git --skip-install --ssr=false \
    --style=css --package-manager=npm --ai-config=none --interactive=false </dev/null
  (cd angular && npm_lock)
  publish angular "$WORK/angular"
}

gen_create-react-app() {
  cd "$WORK"
  npx --yes "$CREATE_REACT_APP" create-react-app --use-npm </dev/null
  publish create-react-app "$WORK/create-react-app"
}

gen_pnpm() {
  cd "$WORK"
  vite_app vite-pnpm vanilla-ts  # a project named "pnpm" would shadow the tool in npx
  cd vite-pnpm
  npm pkg set "packageManager=pnpm@$PNPM_VERSION"
  npx --yes "pnpm@$PNPM_VERSION" install --no-frozen-lockfile
  publish pnpm "$WORK/vite-pnpm"
}

gen_yarn() {
  cd "$WORK"
  # vanilla, not vanilla-ts: the TypeScript 7 that vanilla-ts brings is a native
  # compiler that cannot resolve through Plug'n'Play ("TS2688: Cannot find type
  # definition file for 'vite/client'"), so `tsc && vite build` fails under PnP
  vite_app vite-yarn vanilla  # a project named "yarn" would shadow the tool in npx
  # the .gitignore lines `yarn init` writes (for Plug'n'Play without zero-installs)
  mkdir yarn-init && (cd yarn-init && npx --yes -p "@yarnpkg/cli-dist@$YARN_VERSION" yarn init -y >/dev/null)
  cd vite-yarn
  { printf '\n# Yarn\n'; cat ../yarn-init/.gitignore; } >>.gitignore
  npm pkg set "packageManager=yarn@$YARN_VERSION"
  # (under CI=1 yarn would refuse to write the lockfile)
  env -u CI npx --yes -p "@yarnpkg/cli-dist@$YARN_VERSION" yarn install --no-immutable
  publish yarn "$WORK/vite-yarn"
}

gen_bun() {
  cd "$WORK"
  vite_app vite-bun react-ts  # a project named "bun" would shadow the tool in npx
  cd vite-bun
  npx --yes "bun@$BUN_VERSION" install
  publish bun "$WORK/vite-bun"
}

gen_monorepo() {
  mkdir -p "$WORK/monorepo/apps" && cd "$WORK/monorepo"
  cat >README.md <<'EOF'
# monorepo

Two sites in one repository:

- `apps/web`: a Vite app (`npm ci && npm run build`, output `apps/web/dist`);
  deploy it with `root_dir: apps/web`.
- `apps/docs`: plain static files, nothing to build.
EOF
  cat >.gitignore <<'EOF'
node_modules
dist
EOF
  (cd apps && vite_app web vanilla-ts && cd web && npm_lock)
  mkdir -p apps/docs
  cat >apps/docs/index.html <<'EOF'
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Docs</title>
  </head>
  <body>
    <h1>Docs</h1>
    <p>Hand-written static files, served as they are.</p>
  </body>
</html>
EOF
  publish monorepo "$WORK/monorepo"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for name in "${names[@]}"; do
  declare -F "gen_$name" >/dev/null || { echo "unknown fixture: $name (known: ${ALL[*]})" >&2; exit 2; }
done
for name in "${names[@]}"; do
  say "$name"
  ( "gen_$name" )
done
