import type { ConnectionState, StateDetail } from '../../src/client/index.js';

const LABELS: Record<ConnectionState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  closed: 'Disconnected',
};

/** The live connection state, always visible; announced politely when it changes. */
export function ConnectionBadge({
  state,
  detail,
}: {
  readonly state: ConnectionState;
  readonly detail?: StateDetail | undefined;
}) {
  const retry =
    state === 'reconnecting' && detail?.retryInMs !== undefined && detail.retryInMs >= 1000
      ? ` (retry in ${Math.round(detail.retryInMs / 1000)} s)`
      : '';
  return (
    <p class="connection" data-state={state} role="status" aria-live="polite">
      <span class="dot" aria-hidden="true" />
      <span class="connection-label">
        {LABELS[state]}
        {retry}
      </span>
    </p>
  );
}
