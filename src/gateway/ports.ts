export interface Lease {
  readonly userId: string;
  readonly connectionId: string;
}

/**
 * Per-user connection slots, counted across every instance. A slot is a lease: the instance holding it renews it,
 * so the slots of an instance that crashed expire instead of leaking.
 */
export interface ConnectionLeases {
  /** Takes a slot if the user holds fewer than `max`; false when none is left. */
  acquire(lease: Lease, max: number): Promise<boolean>;
  /** Extends the leases of connections still open on this instance. */
  renew(leases: readonly Lease[]): Promise<void>;
  release(lease: Lease): Promise<void>;
}
