/**
 * Project names become `<name>.<domain>`, so they are DNS labels. The same rule as the server's
 * (engine/names.py), checked as the user types; the server still has the last word (and says
 * when a name is taken).
 */

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const RESERVED_NAMES = new Set([
  "admin", "api", "app", "assets", "auth", "cdn", "dashboard", "docs", "hooks", "localhost",
  "login", "mail", "slipway", "socket", "socket-io", "static", "status", "webhooks", "www",
]);

/** Why `name` cannot be a project name, or null when it can. */
export function projectNameProblem(name: string): string | null {
  if (!name) return "A name is required.";
  if (name.length > 63) return "At most 63 characters.";
  if (/[A-Z]/.test(name)) return "Use lowercase letters only.";
  if (!LABEL.test(name)) {
    return "Use lowercase letters, digits and hyphens, starting and ending with a letter or digit.";
  }
  if (name.includes("--")) return "Two hyphens in a row are kept for preview addresses.";
  if (RESERVED_NAMES.has(name)) return `“${name}” is reserved by Slipway.`;
  return null;
}

/** A valid name suggested from a repository name ("My_Site.io" → "my-site-io"). */
export function suggestProjectName(repoName: string): string {
  const slug = repoName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  if (!slug) return "";
  return RESERVED_NAMES.has(slug) ? `${slug}-site` : slug;
}

/**
 * A name suggested from what was pasted as the repository: its last path segment without
 * `.git` ("https://github.com/ada/hello.git", "git@host:ada/hello", "/home/ada/src/hello/"
 * → "hello"). Empty when there is no segment to take a name from.
 */
export function suggestNameFromRepo(repo: string): string {
  const path = repo.trim().replace(/[?#].*$/, "").replace(/[/\\]+$/, "");
  const last = path.split(/[/\\:]/).pop() ?? "";
  return suggestProjectName(last.replace(/\.git$/i, ""));
}
