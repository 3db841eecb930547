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
 * the circuit opens and calls fail fast until a trial call after `halfOpenAfterMs` succeeds. Only dependency
 * failures count: AppErrors (a wrong password, a taken email) are answers, and a statement the store refused for
 * what it held (`isRefusal`) is a bug or bad input; both pass through without counting, so no request, however
 * crafted, can open the circuit for everyone.
 */
export class DependencyGuard {
  private readonly policy: CircuitBreakerPolicy;
  private readonly isRefusal: (err: unknown) => boolean;

  constructor(
    readonly name: string,
    options: { failures?: number; halfOpenAfterMs?: number; isRefusal?: (err: unknown) => boolean } = {},
  ) {
    const { failures = 5, halfOpenAfterMs = 5_000, isRefusal = () => false } = options;
    this.isRefusal = isRefusal;
    this.policy = circuitBreaker(
      handleWhen((err) => !isAppError(err) && !isRefusal(err)),
      { halfOpenAfter: halfOpenAfterMs, breaker: new ConsecutiveBreaker(failures) },
    );
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(call);
    } catch (err) {
      if (isAppError(err) || this.isRefusal(err)) throw err;
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
