#!/usr/bin/env node
import { stopOnSigint } from './interrupts.ts';
import { callerCwd, runCli } from './main.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  interactive: Boolean(process.stderr.isTTY),
  cwd: callerCwd(process.env, process.cwd()),
  env: process.env,
  // The first Ctrl-C stops a backfill after the current image; a second one quits at once.
  interrupts: () => stopOnSigint((text) => process.stderr.write(text)),
});
