import { hourBucketOf, type TokenUsageStore } from '../../agents/index.js';
import type { Usage } from '../../protocol/index.js';

/** Token usage in one process (unit tests; the server keeps it in SQL so that it survives restarts). */
export class MemoryTokenUsageStore implements TokenUsageStore {
  private readonly buckets = new Map<string, Map<string, number>>();

  async add(userId: string, usage: Usage, at: Date): Promise<void> {
    const user = this.buckets.get(userId) ?? new Map<string, number>();
    this.buckets.set(userId, user);
    const hour = hourBucketOf(at);
    user.set(hour, (user.get(hour) ?? 0) + usage.inputTokens + usage.outputTokens);
  }

  async totalSince(userId: string, since: Date): Promise<number> {
    const from = hourBucketOf(since);
    let total = 0;
    for (const [hour, tokens] of this.buckets.get(userId) ?? []) if (hour >= from) total += tokens;
    return total;
  }
}
