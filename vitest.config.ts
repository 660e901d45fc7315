import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CI also writes a JSON report, from which .ci/run prints the plain 'N passed, N failed' line.
    reporters: process.env['CI']
      ? ['default', ['json', { outputFile: process.env['VITEST_REPORT'] ?? '.tmp/vitest-report.json' }]]
      : ['default'],
  },
});
