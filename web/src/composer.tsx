import { useRef, useState } from 'preact/hooks';

/**
 * The message box: Enter sends, Shift+Enter starts a new line. 10 000 characters stay under the socket's 64 KiB message
 * limit even when every one is escaped in JSON. It stays usable while reconnecting: the SDK sends once connected.
 */
export function Composer({ onSend }: { readonly onSend: (text: string) => void }) {
  const [text, setText] = useState('');
  const box = useRef<HTMLTextAreaElement>(null);
  const send = (): void => {
    const message = text.trim();
    if (message === '') return;
    onSend(message);
    setText('');
    box.current?.focus();
  };
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label for="message" class="visually-hidden">
        Message
      </label>
      <textarea
        id="message"
        ref={box}
        rows={2}
        maxLength={10_000}
        placeholder="Ask something, e.g. “calculate 12*7”"
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          }
        }}
      />
      <button type="submit" class="primary" disabled={text.trim() === ''}>
        Send
      </button>
    </form>
  );
}
