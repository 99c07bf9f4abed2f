"""The frameworks Slipway knows how to build, by id (what a project's `framework` may be)."""

from __future__ import annotations

FRAMEWORKS: dict[str, str] = {
    "vite": "Vite",
    "nextjs": "Next.js (static export)",
    "create-react-app": "Create React App",
    "astro": "Astro",
    "sveltekit": "SvelteKit (static)",
    "nuxt": "Nuxt (generate)",
    "gatsby": "Gatsby",
    "vue-cli": "Vue CLI",
    "angular": "Angular",
    "docusaurus": "Docusaurus",
    "eleventy": "Eleventy",
    "static": "Plain static HTML",
}
