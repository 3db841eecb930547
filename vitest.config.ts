import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most suites wait on real time (timers, sockets, child processes) rather than compute: four forks on two cores
    // finish the suite in about two thirds of the time two take, and every suite bounds its own waits.
    maxWorkers: 4,
    minWorkers: 1,
  },
});
