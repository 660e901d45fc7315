#!/usr/bin/env node
import { callerCwd, runCli } from './main.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  interactive: Boolean(process.stderr.isTTY),
  cwd: callerCwd(process.env, process.cwd()),
  env: process.env,
  // The first Ctrl-C stops a backfill after the current image; a second one quits at once.
  interrupts: () => {
    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
      process.stderr.write('\nstopping after the current image (Ctrl-C again to quit at once)\n');
    };
    process.on('SIGINT', onSigint);
    return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
  },
});
