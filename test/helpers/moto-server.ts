/**
 * Where moto's S3 server (`moto_server`, Python `moto[server]` ≥ 5.1) is on this machine, for
 * test/helpers/moto.ts and for `.ci/moto-deps.sh` (which runs this file and installs moto when it exits 1):
 * MOTO_SERVER (a path), else `moto_server` on PATH, else the newest pyenv Python's, else ~/.local/bin's.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function findMotoServer(): string {
  const named = process.env['MOTO_SERVER'];
  if (named) return named;
  // pyenv's shims run whichever Python is selected, which may lack moto: its versions are looked at instead.
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && !dir.includes('/.pyenv/') && existsSync(join(dir, 'moto_server')))
      return join(dir, 'moto_server');
  }
  const pyenv = join(process.env['PYENV_ROOT'] ?? join(homedir(), '.pyenv'), 'versions');
  const versions = existsSync(pyenv)
    ? readdirSync(pyenv).sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))
    : [];
  for (const bin of [
    ...versions.map((v) => join(pyenv, v, 'bin', 'moto_server')),
    join(homedir(), '.local', 'bin', 'moto_server'),
  ]) {
    if (existsSync(bin)) return bin;
  }
  throw new Error(
    "No moto server found (MOTO_SERVER, moto_server on PATH, a pyenv Python's or ~/.local/bin's): bash .ci/moto-deps.sh installs it (pip install --user 'moto[server]>=5.1')",
  );
}

// `node --import tsx test/helpers/moto-server.ts`: prints the path, or why none was found (exit 1).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(findMotoServer());
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
