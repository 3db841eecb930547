import type { AppOptions } from '../../../src/app/index.js';

/**
 * A session store that can be switched "down": while down, `isSessionActive` throws like a database that does not
 * answer. For the attack modules that check the upgrade fails closed (503, never a pass).
 */
export function sessionStoreFault(): { wrap: NonNullable<AppOptions['wrapAuthStores']>; down(on: boolean): void } {
  let faulty = false;
  return {
    down: (on) => {
      faulty = on;
    },
    wrap: ({ users, tokens }) => ({
      users,
      tokens: new Proxy(tokens, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'isSessionActive' && typeof value === 'function') {
            return async (...args: unknown[]) => {
              if (faulty) throw new Error('connection refused (injected)');
              return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
    }),
  };
}
