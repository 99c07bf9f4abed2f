import { FRAMEWORKS } from "../api/types";

/** The framework a project builds with: detected from the repository unless one is chosen. */
export function FrameworkSelect({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <label class="field">
      <span>Framework</span>
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">Detect automatically</option>
        {Object.entries(FRAMEWORKS).map(([key, label]) => (
          <option key={key} value={key}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}
