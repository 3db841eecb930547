import type { RevocationBus } from '../../auth/index.js';

export class MemoryRevocationBus implements RevocationBus {
  private readonly listeners = new Set<(familyId: string) => void>();

  async publish(familyId: string): Promise<void> {
    for (const l of [...this.listeners]) l(familyId);
  }

  subscribe(listener: (familyId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
