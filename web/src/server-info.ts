import { WS_PATH, type WsHealthResponse } from '../../src/protocol/wire/index.js';

/**
 * The one thing the page asks the server outside the SDK: whether demo mode is on (GET /ws/health, public, no
 * credentials). The SDK has no call for it; a failure just hides the demo button.
 */
export async function isDemoMode(): Promise<boolean> {
  try {
    const response = await fetch(`${WS_PATH}/health`, { headers: { accept: 'application/json' } });
    if (!response.ok) return false;
    const body = (await response.json()) as Partial<WsHealthResponse>;
    return body.demoMode === true;
  } catch {
    return false;
  }
}
