// The operator's message to a line (the general line's or a sale's): every waiting fan of the line sees
// it within 2 s, on the stream or the next poll. Saving an empty text clears it.
import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n';

/** The server's limit (src/queue/queue.schemas.ts). */
const MAX_MESSAGE_LENGTH = 280;

export function LineMessageForm({
  id,
  message,
  busy,
  onSave,
}: {
  id: string;
  message: string | null;
  busy: boolean;
  onSave: (message: string | null) => void;
}) {
  const { t } = useI18n();
  const [text, setText] = useState(message ?? '');
  const [touched, setTouched] = useState(false);

  useEffect(() => {
    if (!touched) setText(message ?? '');
  }, [message, touched]);

  const save = (next: string | null) => {
    setTouched(false);
    onSave(next);
  };

  return (
    <form
      class="block line-message"
      onSubmit={(event) => {
        event.preventDefault();
        save(text.trim() === '' ? null : text.trim());
      }}
    >
      <label for={`message-${id}`}>{t.lineMessageLabel}</label>
      <p class="muted small" id={`message-hint-${id}`}>
        {t.lineMessageHint}
      </p>
      <textarea
        id={`message-${id}`}
        rows={2}
        maxLength={MAX_MESSAGE_LENGTH}
        aria-describedby={`message-hint-${id}`}
        value={text}
        onInput={(event) => {
          setText(event.currentTarget.value);
          setTouched(true);
        }}
      />
      <div class="row">
        <button type="submit" disabled={busy}>
          {t.postMessage}
        </button>
        {message !== null && (
          <button type="button" disabled={busy} onClick={() => save(null)}>
            {t.clearMessage}
          </button>
        )}
      </div>
    </form>
  );
}
