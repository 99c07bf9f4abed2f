/** Rows of environment variables (name and value) for a new project. */
import { isSecretName } from "../lib/fieldErrors";

export interface EnvRow {
  key: string;
  value: string;
}

/** The server's complaint about one variable (its field `secrets.<NAME>`), shown at its row. */
export interface EnvError {
  name: string;
  message: string;
}

export function EnvEditor({ rows, onChange, error }: { rows: EnvRow[]; onChange: (rows: EnvRow[]) => void; error?: EnvError | null }) {
  const set = (index: number, patch: Partial<EnvRow>) =>
    onChange(rows.map((row, i) => (i === index ? { ...row, ...patch } : row)));
  const errorRow = error ? rows.findIndex((row) => row.key.trim() === error.name) : -1;
  // The name is outlined when it breaks the naming rule; otherwise the value is at fault.
  const nameAtFault = error ? !isSecretName(error.name) : false;
  return (
    <div class="env-editor">
      {rows.map((row, index) => {
        const faulty = index === errorRow;
        const describedBy = faulty ? `env-error-${index}` : undefined;
        return (
          <div class="env-row-block" key={index}>
            <div class="env-row">
              <input
                aria-label={`Variable ${index + 1} name`}
                placeholder="NAME"
                value={row.key}
                onInput={(e) => set(index, { key: e.currentTarget.value })}
                aria-invalid={faulty && nameAtFault}
                aria-describedby={describedBy}
                autoComplete="off"
                spellcheck={false}
              />
              <input
                aria-label={`Variable ${index + 1} value`}
                placeholder="value"
                type="password"
                value={row.value}
                onInput={(e) => set(index, { value: e.currentTarget.value })}
                aria-invalid={faulty && !nameAtFault}
                aria-describedby={describedBy}
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
            {faulty && (
              <p class="error-note" role="alert" id={describedBy}>
                {error!.message}
              </p>
            )}
          </div>
        );
      })}
      <button type="button" class="button button-small" onClick={() => onChange([...rows, { key: "", value: "" }])}>
        Add variable
      </button>
    </div>
  );
}
