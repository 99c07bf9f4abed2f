/** Rows of environment variables (name and value) for a new project. */
export interface EnvRow {
  key: string;
  value: string;
}

export function EnvEditor({ rows, onChange }: { rows: EnvRow[]; onChange: (rows: EnvRow[]) => void }) {
  const set = (index: number, patch: Partial<EnvRow>) =>
    onChange(rows.map((row, i) => (i === index ? { ...row, ...patch } : row)));
  return (
    <div class="env-editor">
      {rows.map((row, index) => (
        <div class="env-row" key={index}>
          <input
            aria-label={`Variable ${index + 1} name`}
            placeholder="NAME"
            value={row.key}
            onInput={(e) => set(index, { key: e.currentTarget.value })}
            autoComplete="off"
            spellcheck={false}
          />
          <input
            aria-label={`Variable ${index + 1} value`}
            placeholder="value"
            type="password"
            value={row.value}
            onInput={(e) => set(index, { value: e.currentTarget.value })}
            autoComplete="new-password"
          />
          <button
            type="button"
            class="button button-small"
            aria-label={`Remove variable ${index + 1}`}
            onClick={() => onChange(rows.filter((_, i) => i !== index))}
          >
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="button button-small" onClick={() => onChange([...rows, { key: "", value: "" }])}>
        Add variable
      </button>
    </div>
  );
}
