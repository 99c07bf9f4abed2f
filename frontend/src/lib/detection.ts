/**
 * What a build detected about a project (framework, commands, output directory). Builds record
 * it only as Slipway's own lines at the start of their log, one per setting, each "<setting>:
 * <value> (<why>)" ("install command: npm ci (package-lock.json)"), so Settings reads them from
 * there to show what an empty field means.
 */

export interface Detected {
  framework?: string;
  install_command?: string;
  build_command?: string;
  output_dir?: string;
}

const SETTINGS: [string, keyof Detected][] = [
  ["framework: ", "framework"],
  ["install command: ", "install_command"],
  ["build command: ", "build_command"],
  ["output directory: ", "output_dir"],
];
/** What the log says for a setting that came from the project, not from detection. */
const FROM_SETTINGS = "set in project settings";

/** The detected settings found in a build's log lines; settings the project set are left out. */
export function detectedSettings(lines: readonly { stream: string; log: string }[]): Detected {
  const found: Detected = {};
  const seen = new Set<keyof Detected>();
  for (const line of lines) {
    if (line.stream !== "system") continue;
    for (const [prefix, key] of SETTINGS) {
      if (seen.has(key) || !line.log.startsWith(prefix)) continue;
      seen.add(key);
      const rest = line.log.slice(prefix.length);
      // Detected values are plain words; the reason follows in parentheses or after a comma.
      const fromSettings = rest.startsWith(FROM_SETTINGS) || rest.includes(`(${FROM_SETTINGS}`);
      if (!fromSettings) found[key] = rest.split(" (")[0].split(", ")[0].trim();
    }
  }
  return found;
}
