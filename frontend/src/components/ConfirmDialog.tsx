/**
 * A confirmation in a native modal <dialog>: focus moves into it, Escape cancels, and the page
 * behind cannot be clicked. `confirmText`, when given, must be typed before confirming.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../api/client";

interface Props {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  confirmText?: string;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
}

export function ConfirmDialog({ title, children, confirmLabel, danger, confirmText, onConfirm, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    dialog.current?.showModal();
  }, []);

  const confirm = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const blocked = busy || (confirmText !== undefined && typed !== confirmText);
  return (
    <dialog ref={dialog} class="dialog" onClose={onClose} aria-labelledby="dialog-title">
      <form onSubmit={confirm}>
        <h2 id="dialog-title">{title}</h2>
        <div class="dialog-body">{children}</div>
        {confirmText !== undefined && (
          <label class="field">
            <span>
              Type <strong>{confirmText}</strong> to confirm
            </span>
            <input value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoComplete="off" spellcheck={false} />
          </label>
        )}
        {error && (
          <p class="error-note" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" class={danger ? "button button-danger" : "button button-primary"} disabled={blocked}>
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
