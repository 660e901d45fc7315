/** Runs the CLI in-process (layers/core/src/cli/main.ts) with captured output. */
import { runCli } from '#core/cli/main.ts';

export async function runCliCaptured(
  args: string[],
  cwd: string,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    interactive: false,
    cwd,
    env: {},
  });
  return { code, out, err };
}
