"""Which URL paths name content that never changes, so browsers may cache them forever.

Written once as regular expressions over the decoded URL path, in the syntax Python's `re` and
nginx's PCRE share (lookaheads, `(?:...)`, counted repeats; no named groups, no flags), so that
Slipway's server and the generated nginx configuration (`nginx_config`) decide alike:

- a content hash in the file name, the forms the bundlers write: a `.`, `-` or `_`-delimited
  segment of 8+ letters and digits holding a digit, not the first one (`app.3f9a2c1d.js`,
  `main.8f3e2a1b.chunk.js`; `html5shiv.js` and `bootstrap4.js` are names, not hashes); a stem
  that is all hexadecimal (`3f9a2c1d.js`); Rollup's and Vite's 8 base64url characters with a
  digit and both letter cases (`index-D_1pQ7xR.js`), or, in Vite's `assets/` folder, both
  letter cases alone (`index-CsUDhMuy.css`); esbuild's (Angular's) 8 upper-case base32
  characters (`polyfills-XEMEIILL.js`);
- any file in a framework's immutable folder, hashed or not (Turbopack's bare-hash chunks
  `02qshqdnek4io.js`, SvelteKit's chunks): Next.js `/_next/static/`, SvelteKit
  `/_app/immutable/`, Astro `/_astro/`, Nuxt `/_nuxt/` but its `builds/`, which holds the
  manifest of the latest build under one name.
"""

from __future__ import annotations

import re

# The file name's last part: an extension of its own (no dot, no slash) and the end.
_EXTENSION = r"\.[^/.]+$"

IMMUTABLE_PATH_PATTERNS: tuple[str, ...] = (
    # Framework folders.
    r"^/(?:_next/static|_app/immutable|_astro)/[^/]",
    r"^/_nuxt/(?!builds/)[^/]",
    # A hash segment after a delimiter, followed by more of the stem or by the extension.
    r"[._-](?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{8,}(?:[._-][^/]*)?" + _EXTENSION,
    # An all-hexadecimal stem.
    r"/(?=[a-f]*[0-9])[0-9a-f]{8,}" + _EXTENSION,
    # Rollup / Vite: base64url (which may hold `-` and `_`), a digit and both cases.
    r"[^/][.-](?=[A-Za-z0-9_-]{0,7}[0-9])(?=[A-Za-z0-9_-]{0,7}[a-z])(?=[A-Za-z0-9_-]{0,7}[A-Z])"
    r"[A-Za-z0-9_-]{8}" + _EXTENSION,
    # Vite's assets/: both letter cases suffice.
    r"^/assets/(?:[^/]+/)*[^/]+-(?=[A-Za-z0-9_-]{0,7}[a-z])(?=[A-Za-z0-9_-]{0,7}[A-Z])"
    r"[A-Za-z0-9_-]{8}\.[a-z0-9]+$",
    # esbuild (Angular): upper-case base32.
    r"[^/]-[A-Z2-7]{8}" + _EXTENSION,
)

_IMMUTABLE_PATH = re.compile("|".join(f"(?:{pattern})" for pattern in IMMUTABLE_PATH_PATTERNS))


def is_immutable_path(path: str) -> bool:
    """Whether the decoded URL path (`/assets/app.3f9a2c1d.js`) names content that never
    changes at that URL."""
    return _IMMUTABLE_PATH.search(path) is not None
