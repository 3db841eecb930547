/** One process's broadcast channel (revoked sessions, cancel requests): listeners are called synchronously. */
export class MemoryBroadcast {
  private readonly listeners = new Set<(payload: string) => void>();

  async publish(payload: string): Promise<void> {
    for (const listener of [...this.listeners]) listener(payload);
  }

  subscribe(listener: (payload: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
