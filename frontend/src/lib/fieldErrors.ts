/**
 * The API names the input at fault by its JSON key (`{"field": "repo_url", "message":
 * "repo_url must use https://…"}`); a form shows the message at that input, in the words of its
 * label ("Repository must use https://…"). A new project's environment variable is the field
 * `secrets.<NAME>`, shown at that variable's row.
 */

/** The labels the project forms show for the API's field names. */
export const FIELD_LABELS: Record<string, string> = {
  name: "Project name",
  repo_url: "Repository",
  branch: "Branch",
  framework: "Framework",
  node_version: "Node.js version",
  install_command: "Install command",
  build_command: "Build command",
  output_dir: "Output directory",
  root_dir: "Root directory",
};

/** `message` with the field's JSON key, where it opens the sentence, replaced by its label. */
export function labelledMessage(message: string, field: string): string {
  const label = FIELD_LABELS[field];
  if (!label || !message.startsWith(`${field} `)) return message;
  return label + message.slice(field.length);
}

const SECRET_FIELD = "secrets.";

/** The variable a field names (`secrets.API_KEY` → `API_KEY`), or null for any other field. */
export function secretOfField(field: string | undefined): string | null {
  return field?.startsWith(SECRET_FIELD) ? field.slice(SECRET_FIELD.length) : null;
}

/** The server's rule for environment variable names (engine/projects/project_rules.py). */
export function isSecretName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(name);
}
