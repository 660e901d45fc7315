/**
 * Preloaded into a real process (`node --import tsx --import ./test/helpers/uncaught-on-signal.ts ...`) by
 * test/integration/shutdown.test.ts: SIGUSR2 makes the process throw an exception no handler catches, the
 * way a bug would, at a moment the test picks (while a batch runs).
 */
process.on('SIGUSR2', () => {
  setImmediate(() => {
    throw new Error('test: an exception nothing catches');
  });
});
