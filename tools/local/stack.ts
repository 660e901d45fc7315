/**
 * The local stack, on loopback only: s3rver (S3), serverless-offline through the osls binary (HTTP API
 * and Lambda endpoints running the real handlers), and the S3 event bridge (s3-bridge.ts) that turns
 * PutObject into on-upload deliveries with AWS's async retry and dead-letter semantics, and a stand-in
 * for S3 Batch Operations (batch-operations.ts) that runs bucket backfills through the backfill function.
 * `npm start` and the integration tests both start it through `startStack`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { createS3Client, ObjectStore } from '#core/clients/s3.ts';
import { BatchOperationsStandIn } from './batch-operations.ts';
import { type DeadLetterStore, deadLetterSink, type RedriveReport, redrive } from './dead-letter.ts';
import { type InvokeResult, S3EventBridge } from './s3-bridge.ts';

const HOST = '127.0.0.1';
const SERVICE = 'mmlq-edge';
const STAGE = 'local';

export interface StackOptions {
  /** Repository root (where serverless.yml is). */
  root: string;
  /** Where s3rver keeps its objects. */
  dataDir: string;
  bucket?: string;
  /** 0 = any free port. */
  s3Port?: number;
  httpPort?: number;
  lambdaPort?: number;
  model?: string;
  modelsDir?: string;
  uploadPrefix?: string;
  deadLetterPrefix?: string;
  /** Async-invoke emulation: retries after the first attempt and the base backoff. */
  retries?: number;
  retryBackoffMs?: number;
  /** On-upload invocations in flight at most; more events queue (default 2). */
  concurrency?: number;
  /**
   * false: the bucket sends no event notifications (objects already there before the stack was deployed,
   * e.g. for a backfill). Default true.
   */
  notifications?: boolean;
  /** The Batch Operations stand-in: invocations in flight at most (default: `concurrency`). */
  batchConcurrency?: number;
  /** Its attempts per task and base backoff (default 3 and retryBackoffMs). */
  batchAttempts?: number;
  /** Local fallback folder for dead letters S3 refuses (default: dead-letter/ beside dataDir). */
  deadLetterDir?: string;
  /** Where every client (functions, bridge, stack.s3) reaches S3 (default: s3rver's own address). */
  s3ClientEndpoint?: string;
  /** Where the edge functions send scorer invocations (default: serverless-offline's own Lambda port). */
  scorerLambdaEndpoint?: string;
  /**
   * Extra environment for serverless-offline, which hands the functions only what serverless.yml maps
   * (e.g. URL_ALLOWED_ORIGINS, SCORER_MAX_ATTEMPTS, SCORER_BACKOFF_MS).
   */
  env?: Record<string, string>;
  /**
   * Variables for every function that serverless.yml does not map (e.g. SCORER_TIMEOUT_MS,
   * S3_TIMEOUT_MS). Given, serverless-offline runs with --localEnvironment: the functions also see the
   * rest of this process's environment (serverless.yml's values still win). For tests.
   */
  functionEnv?: Record<string, string>;
  /** Timeout of each request of the stack's own S3 client (bridge dead letters, stack.s3); 10 s. */
  s3TimeoutMs?: number;
  /** Stack messages (bridge deliveries, start-up). */
  log?: (line: string) => void;
  /** serverless-offline's own output. */
  offlineOutput?: (chunk: string) => void;
  /** Milliseconds to wait for serverless-offline to be ready. */
  startTimeoutMs?: number;
}

export interface Stack {
  bucket: string;
  uploadPrefix: string;
  deadLetterPrefix: string;
  s3Endpoint: string;
  apiUrl: string;
  lambdaEndpoint: string;
  s3: S3Client;
  lambda: LambdaClient;
  bridge: S3EventBridge;
  /** The S3 Batch Operations stand-in (S3 Control endpoint for `mmlq-edge bucket --endpoint`). */
  batchOperations: BatchOperationsStandIn;
  batchOperationsEndpoint: string;
  /** Suffixes on-upload scores (serverless.yml's uploadSuffixes), lower case with the dot. */
  uploadSuffixes: string[];
  /** S3 prefix and local folder of the dead-letter records. */
  deadLetters: DeadLetterStore;
  /** Re-sends every dead-lettered event through the bridge and marks the delivered ones. */
  redrive: (log?: (line: string) => void) => Promise<RedriveReport>;
  /** Resolves with a message if serverless-offline exits while the stack runs (not on stop()). */
  died: Promise<string>;
  /** Every event the local S3 emits (e.g. to count writes of a key). Returns an unsubscribe function. */
  onS3Event: (listener: (event: S3Event) => void) => () => void;
  functionName: (name: FunctionKey) => string;
  stop: () => Promise<void>;
}

export type FunctionKey = 'score-api' | 'on-upload' | 'scorer' | 'backfill' | 'library-tiers';

/** A port that was free a moment ago (bound to 0, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Local credentials: s3rver checks signatures against S3RVER/S3RVER; serverless-offline ignores them. */
const LOCAL_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
};

/** serverless.yml's uploadSuffixes parameter (what on-upload scores), lower case. */
export function readUploadSuffixes(root: string): string[] {
  const yml = readFileSync(join(root, 'serverless.yml'), 'utf8');
  const line = /^\s*uploadSuffixes:\s*(.+)$/m.exec(yml)?.[1] ?? '';
  return line
    .replace(/\s+#.*$/, '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** The bridge's invoke: a RequestResponse call to serverless-offline's Lambda endpoint. */
export function lambdaInvoker(lambda: LambdaClient) {
  return async (name: string, event: unknown): Promise<InvokeResult> => {
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: name,
        InvocationType: 'RequestResponse',
        Payload: JSON.stringify(event),
      }),
    );
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    const payload: unknown = text ? JSON.parse(text) : undefined;
    return { ok: !out.FunctionError, payload };
  };
}

/** An error about a port, naming the option/variable to change. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly what: 's3Port' | 'httpPort' | 'lambdaPort',
    options?: { cause?: unknown },
  ) {
    super(`port ${port} (${what}) is already in use`, options);
    this.name = 'PortInUseError';
  }
}

function waitForReady(child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`serverless-offline was not ready within ${timeoutMs} ms:\n${output().slice(-4000)}`),
        ),
      timeoutMs,
    );
    const onData = () => {
      if (/Server ready/i.test(output())) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `serverless-offline exited with code ${code} before it was ready:\n${output().slice(-4000)}`,
        ),
      );
    });
  });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => {});
  const bucket = options.bucket ?? 'mmlq-local';
  const uploadPrefix = options.uploadPrefix ?? 'uploads/';
  const deadLetterPrefix = options.deadLetterPrefix ?? 'dead-letter/';
  const root = resolve(options.root);
  const osls = join(root, 'node_modules', 'osls', 'bin', 'serverless.js');
  if (!existsSync(osls)) throw new Error(`osls is not installed at ${osls}: run npm ci`);

  await mkdir(options.dataDir, { recursive: true });
  const s3rver = new S3rver({
    address: HOST,
    port: options.s3Port ?? 0,
    directory: options.dataDir,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const s3Address = await s3rver.run().catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EADDRINUSE'
      ? new PortInUseError(options.s3Port ?? 0, 's3Port', { cause: error })
      : error;
  });
  const s3Endpoint = options.s3ClientEndpoint ?? `http://${HOST}:${s3Address.port}`;
  const httpPort = options.httpPort || (await freePort());
  const lambdaPort = options.lambdaPort || (await freePort());
  const lambdaEndpoint = `http://${HOST}:${lambdaPort}`;
  const s3 = createS3Client(
    {
      region: 'us-east-1',
      endpoint: s3Endpoint,
      forcePathStyle: true,
      timeoutMs: options.s3TimeoutMs ?? 10_000,
    },
    { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  );
  // s3rver's configureBuckets covers a fresh directory; an existing one keeps its bucket.
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => {});

  let output = '';
  const child = spawn(
    process.execPath,
    [
      osls,
      'offline',
      'start',
      '--stage',
      STAGE,
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      ...(options.functionEnv ? ['--localEnvironment'] : []),
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        ...LOCAL_AWS_ENV,
        MMLQ_BUCKET: bucket,
        MMLQ_S3_ENDPOINT: s3Endpoint,
        MMLQ_LAMBDA_ENDPOINT: options.scorerLambdaEndpoint ?? lambdaEndpoint,
        ...(options.model ? { MODEL: options.model } : {}),
        ...(options.modelsDir ? { MODELS_DIR: resolve(options.modelsDir) } : {}),
        ...options.env,
        ...options.functionEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stop() (and the exit hook) reach anything it started too.
      detached: true,
    },
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  // Last resort when this process exits without stop() (an uncaught error, process.exit).
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);
  let stopping = false;
  const died = new Promise<string>((resolveDied) => {
    child.once('exit', (code, signal) => {
      if (!stopping)
        resolveDied(
          `serverless-offline exited (${signal ?? `code ${code}`}); uploads and the HTTP API no longer work.\n${output.slice(-2000)}`,
        );
    });
  });
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-200_000);
    options.offlineOutput?.(text);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  const stopChild = async () => {
    stopping = true;
    process.removeListener('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) {
      killGroup('SIGKILL');
      return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    killGroup('SIGTERM');
    const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    // Anything of its group still there (a worker that ignored SIGTERM).
    killGroup('SIGKILL');
  };

  try {
    await waitForReady(child, options.startTimeoutMs ?? 60_000, () => output);
  } catch (error) {
    await stopChild();
    await s3rver.close();
    const busy = /EADDRINUSE[^\n]*:(\d+)/.exec(output);
    if (busy) {
      const port = Number(busy[1]);
      throw new PortInUseError(port, port === lambdaPort ? 'lambdaPort' : 'httpPort', { cause: error });
    }
    throw error;
  }

  const lambda = new LambdaClient({
    region: 'us-east-1',
    endpoint: lambdaEndpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const functionName = (name: FunctionKey) => `${SERVICE}-${STAGE}-${name}`;
  const objects = new ObjectStore(s3);
  const deadLetters: DeadLetterStore = {
    objects,
    bucket,
    prefix: `${deadLetterPrefix}on-upload/`,
    dir: resolve(options.deadLetterDir ?? join(dirname(resolve(options.dataDir)), 'dead-letter')),
  };
  const bridge = new S3EventBridge({
    functionName: functionName('on-upload'),
    prefix: uploadPrefix,
    retries: options.retries ?? 2,
    backoffMs: options.retryBackoffMs ?? 1000,
    concurrency: options.concurrency ?? 2,
    log,
    invoke: lambdaInvoker(lambda),
    deadLetter: deadLetterSink({ ...deadLetters, backoffMs: options.retryBackoffMs ?? 1000, log }),
  });
  if (options.notifications ?? true) {
    s3rver.on('event', (event: S3Event) => {
      if (event.Records.every((r) => r.s3.bucket.name === bucket)) bridge.accept(event);
    });
  }
  const batchOperations = new BatchOperationsStandIn({
    s3,
    lambda,
    concurrency: options.batchConcurrency ?? options.concurrency ?? 2,
    attempts: options.batchAttempts ?? 3,
    backoffMs: options.retryBackoffMs ?? 1000,
    log,
  });
  const batchOperationsEndpoint = await batchOperations.start(0, HOST);
  log(
    `local S3 ${s3Endpoint} (bucket ${bucket}), HTTP API http://${HOST}:${httpPort}, Lambda ${lambdaEndpoint}, S3 Batch Operations ${batchOperationsEndpoint}`,
  );

  return {
    bucket,
    uploadPrefix,
    deadLetterPrefix,
    s3Endpoint,
    apiUrl: `http://${HOST}:${httpPort}`,
    lambdaEndpoint,
    s3,
    lambda,
    bridge,
    batchOperations,
    batchOperationsEndpoint,
    uploadSuffixes: readUploadSuffixes(root),
    deadLetters,
    redrive: (redriveLog) => redrive(deadLetters, bridge, redriveLog ?? log),
    died,
    onS3Event: (listener) => {
      s3rver.on('event', listener);
      return () => s3rver.off('event', listener);
    },
    functionName,
    stop: async () => {
      // Deliveries in flight finish (or dead-letter) first, for at most 10 s.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        bridge.idle().catch(() => {}),
        new Promise<void>((r) => {
          timer = setTimeout(r, 10_000);
        }),
      ]);
      clearTimeout(timer);
      await batchOperations.stop();
      await stopChild();
      await s3rver.close();
      s3.destroy();
      lambda.destroy();
    },
  };
}
