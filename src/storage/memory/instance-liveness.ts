import type { InstanceLiveness } from '../../runs/index.js';

/** One instance alone: every other instance id belongs to a process that has stopped. */
export class SoleInstanceLiveness implements InstanceLiveness {
  readonly alone = true;

  constructor(readonly instanceId: string) {}

  async alive(): Promise<Set<string>> {
    return new Set([this.instanceId]);
  }
}
