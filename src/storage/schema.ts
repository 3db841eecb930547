import type { Generated } from 'kysely';

/** Table shapes shared by every SQL backend. Times are ISO-8601 UTC strings; booleans are 0/1 integers. */
export interface UsersTable {
  id: string;
  email: string;
  email_normalized: string;
  password_hash: string;
  display_name: string | null;
  is_demo: number;
  created_at: string;
  disabled_at: string | null;
}

interface RefreshFamiliesTable {
  id: string;
  user_id: string;
  created_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
}

interface RefreshTokensTable {
  token_hash: string;
  family_id: string;
  created_at: string;
  expires_at: string;
  spent_at: string | null;
}

export interface ThreadsTable {
  id: string;
  user_id: string;
  title: string;
  created_at: string;
  updated_at: string;
  message_count: Generated<number>;
  agent_state: string | null;
}

export interface MessagesTable {
  id: string;
  thread_id: string;
  user_id: string;
  role: 'user' | 'assistant';
  text: string;
  run_id: string | null;
  created_at: string;
  /** Insertion order: created_at can tie within a millisecond. */
  position: Generated<number>;
}

export interface RunsTable {
  id: string;
  thread_id: string;
  user_id: string;
  status: string;
  error_code: string | null;
  created_at: string;
  updated_at: string;
  /** The instance executing the run (null for runs stored before ownership existed). */
  instance_id: string | null;
}

/** A burst of a run's consecutive events (migration 009): seq to last_seq, stored by one append. */
interface RunEventsTable {
  run_id: string;
  /** The burst's first seq: (run_id, seq) is the primary key, so two writers starting at one seq cannot both win. */
  seq: number;
  last_seq: number;
  /** The type of the burst's last event. */
  type: string;
  /** The burst's events as JSON, exactly as sent on the wire, one per line. */
  body: string;
}

export interface Database {
  users: UsersTable;
  refresh_families: RefreshFamiliesTable;
  refresh_tokens: RefreshTokensTable;
  threads: ThreadsTable;
  messages: MessagesTable;
  runs: RunsTable;
  run_events: RunEventsTable;
  cluster_settings: ClusterSettingsTable;
  token_usage: TokenUsageTable;
  tool_approvals: ToolApprovalsTable;
  user_identities: UserIdentitiesTable;
}

/** Migration 008: a user as an identity provider knows them. */
interface UserIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  created_at: string;
}

/** Migration 007: a tool call waiting for (or decided by) its user. `reason` is null while it waits. */
interface ToolApprovalsTable {
  run_id: string;
  tool_call_id: string;
  user_id: string;
  tool: string;
  args: string;
  expires_at: string;
  approved: number | null;
  reason: string | null;
  decided_at: string | null;
}

/** Migration 003: one row per user and UTC hour. */
interface TokenUsageTable {
  user_id: string;
  /** ISO start of the UTC hour: fixed-width, so text order is time order. */
  hour_start: string;
  input_tokens: number;
  output_tokens: number;
}

interface ClusterSettingsTable {
  name: string;
  value: string;
  updated_at: string;
}
