import {
  BrokenCircuitError,
  circuitBreaker,
  ConsecutiveBreaker,
  CircuitState,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { AppError, isAppError } from '../errors/index.js';

/**
 * A circuit breaker (cockatiel) around the stores authentication depends on. Failures of the store become
 * `service_unavailable` (HTTP 503, upgrade 503, in-band 1011), never a credential error; after `failures` in a row
 * the circuit opens and calls fail fast until a trial call after `halfOpenAfterMs` succeeds. AppErrors (a wrong
 * password, a taken email) are answers, not faults, and pass through without counting.
 */
export class DependencyGuard {
  private readonly policy: CircuitBreakerPolicy;

  constructor(
    readonly name: string,
    options: { failures: number; halfOpenAfterMs: number } = { failures: 5, halfOpenAfterMs: 5_000 },
  ) {
    this.policy = circuitBreaker(
      handleWhen((err) => !isAppError(err)),
      { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.failures) },
    );
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(call);
    } catch (err) {
      if (isAppError(err)) throw err;
      const message =
        err instanceof BrokenCircuitError
          ? `${this.name} is unavailable (circuit open).`
          : `${this.name} is unavailable.`;
      throw new AppError('service_unavailable', message, { cause: err });
    }
  }

  get isOpen(): boolean {
    return this.policy.state === CircuitState.Open || this.policy.state === CircuitState.Isolated;
  }
}
