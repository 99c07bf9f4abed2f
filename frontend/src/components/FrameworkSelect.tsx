import { FRAMEWORKS } from "../api/types";

/** The framework a project builds with: detected from the repository unless one is chosen.
 *  `detected` names what a build found, shown on the "Detect automatically" choice. */
export function FrameworkSelect({ value, onChange, detected }: { value: string; onChange: (value: string) => void; detected?: string }) {
  return (
    <label class="field">
      <span>Framework</span>
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{detected ? `Detect automatically (detected: ${detected})` : "Detect automatically"}</option>
        {Object.entries(FRAMEWORKS).map(([key, label]) => (
          <option key={key} value={key}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}
