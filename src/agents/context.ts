/**
 * Who a run acts for. Created once per run by the run manager, frozen, and passed explicitly to the agent and
 * every tool: no module-level state ever carries a user's identity, so one user's run cannot see another's.
 */
export interface RunContext {
  readonly userId: string;
  readonly threadId: string;
  readonly runId: string;
  /** The connection that started the run, if it came over WebSocket (events still go to every connection of the user). */
  readonly connectionId: string | null;
}

export function createRunContext(fields: RunContext): RunContext {
  return Object.freeze({ ...fields });
}
