/**
 * `npm start`'s command line: its flags, the environment variables it reads, and the usage text that
 * lists both. Pure (no I/O) so the front door is tested without starting anything.
 */
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { DEFAULT_MODEL } from '#core/model/registry.ts';

export interface Flag {
  name: string;
  help: string;
}

export const FLAGS: readonly Flag[] = [
  { name: '--once', help: 'score the sample photos, print them ranked, stop (exit 1 if any failed)' },
  { name: '--no-seed', help: 'skip the sample photos' },
  {
    name: '--wordpress',
    help: 'also run a real WordPress with the plugin wired to the local wp-webhook (.ci/wordpress-deps.sh)',
  },
  { name: '--help', help: 'print this help and exit' },
];

export interface EnvVar {
  name: string;
  fallback: string;
  help: string;
}

/** Every environment variable `npm start` reads, with its default. */
export const ENV_VARS: readonly EnvVar[] = [
  { name: 'MODEL', fallback: DEFAULT_MODEL, help: 'model folder name under MODELS_DIR' },
  { name: 'MODELS_DIR', fallback: 'models/', help: 'where model folders live' },
  { name: 'MMLQ_BUCKET', fallback: 'mmlq-local', help: 'the local bucket' },
  { name: 'MMLQ_S3_PORT', fallback: '4569', help: 'local S3 (s3rver)' },
  { name: 'MMLQ_HTTP_PORT', fallback: '3000', help: 'HTTP API (serverless-offline)' },
  { name: 'MMLQ_LAMBDA_PORT', fallback: '3002', help: 'Lambda endpoint (serverless-offline)' },
  { name: 'MMLQ_WP_PORT', fallback: '8088', help: 'WordPress, with --wordpress' },
  {
    name: 'MMLQ_CONCURRENCY',
    fallback: '2',
    help: 'on-upload invocations in flight at once; more uploads queue (like reserved concurrency on AWS)',
  },
  {
    name: 'MMLQ_DATA_DIR',
    fallback: '.local',
    help: 'S3 objects (s3/), drop folder (drop/), local dead letters (dead-letter/), WordPress',
  },
  { name: 'MMLQ_SEED_DIR', fallback: 'test/fixtures/samples', help: 'the sample photos' },
  {
    name: 'CROP_ASPECTS',
    fallback: 'none',
    help: 'aspects whose best crop on-upload puts in each result JSON, e.g. 16:9,1:1',
  },
  {
    name: 'MMLQ_API_KEY',
    fallback: 'a new key each run',
    help: 'the HTTP API key the local authorizer accepts',
  },
];

export function usage(): string {
  const width = Math.max(...FLAGS.map((f) => f.name.length), ...ENV_VARS.map((e) => e.name.length)) + 2;
  return [
    'Usage: npm start -- [flags]',
    '',
    'The local stack on 127.0.0.1: S3 (s3rver), the HTTP API and Lambda endpoints (serverless-offline)',
    'running the real handlers, and the S3 event bridge. Drop images into <MMLQ_DATA_DIR>/drop/ to score them.',
    '',
    'Flags:',
    ...FLAGS.map((f) => `  ${f.name.padEnd(width)}${f.help}`),
    '',
    'Environment variables [default]:',
    ...ENV_VARS.map((e) => `  ${e.name.padEnd(width)}${e.help} [${e.fallback}]`),
    '',
    'Re-drive failed deliveries: npm run redrive (while the stack runs).',
    '',
  ].join('\n');
}

export interface Flags {
  once: boolean;
  noSeed: boolean;
  wordpress: boolean;
}

export type ParsedArgs =
  | { kind: 'run'; flags: Flags }
  | { kind: 'help' }
  | { kind: 'error'; message: string };

export function parseStartArgs(argv: readonly string[]): ParsedArgs {
  const flags: Flags = { once: false, noSeed: false, wordpress: false };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--once') flags.once = true;
    else if (arg === '--no-seed') flags.noSeed = true;
    else if (arg === '--wordpress') flags.wordpress = true;
    else
      return {
        kind: 'error',
        message: arg.startsWith('-') ? `unknown flag ${arg}` : `unexpected argument ${arg}`,
      };
  }
  return { kind: 'run', flags };
}

export interface LocalConfig {
  bucket: string;
  s3Port: number;
  httpPort: number;
  lambdaPort: number;
  wpPort: number;
  concurrency: number;
  /** MMLQ_API_KEY: a fixed local API key; undefined = a new one per run. */
  apiKey: string | undefined;
  dataDir: string;
  seedDir: string;
}

/** Reads the environment once; a bad value is an error that names the variable. */
export function readLocalConfig(env: NodeJS.ProcessEnv, root: string): LocalConfig {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${name} must be an integer from ${min} to ${max} but is "${raw}"`);
    return n;
  };
  return {
    bucket: env['MMLQ_BUCKET'] || 'mmlq-local',
    s3Port: int('MMLQ_S3_PORT', 4569, 1, 65535),
    httpPort: int('MMLQ_HTTP_PORT', 3000, 1, 65535),
    lambdaPort: int('MMLQ_LAMBDA_PORT', 3002, 1, 65535),
    wpPort: int('MMLQ_WP_PORT', 8088, 1, 65535),
    concurrency: int('MMLQ_CONCURRENCY', 2, 1, 64),
    apiKey: env['MMLQ_API_KEY'] || undefined,
    dataDir: resolve(env['MMLQ_DATA_DIR'] || join(root, '.local')),
    seedDir: resolve(env['MMLQ_SEED_DIR'] || join(root, 'test/fixtures/samples')),
  };
}

/** Whether a port can be bound on 127.0.0.1 right now. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, host, () => server.close(() => done(true)));
  });
}

/** The ports that are taken, each as a message that names its variable and how to change it. */
export async function busyPorts(ports: Record<string, number>): Promise<string[]> {
  const busy: string[] = [];
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (other) {
      busy.push(`${name} and ${other} are both ${port}; give each its own port`);
      continue;
    }
    seen.set(port, name);
    if (!(await portFree(port)))
      busy.push(`port ${port} (${name}) is in use; free it or choose another: ${name}=<port> npm start`);
  }
  return busy;
}
