/**
 * How edge functions reach the scorer: Lambda Invoke (@aws-sdk/client-lambda; the endpoint is
 * configurable so serverless-offline's Lambda port works) or HTTP to the GPU service when SCORER_URL is
 * set. Transient failures (network, throttling, 5xx, a crashed scorer) are retried with exponential
 * backoff and full jitter; after the last attempt a SCORER_UNAVAILABLE error goes up so the delivery
 * is retried by Lambda and finally dead-lettered.
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { EdgeError } from '../common/errors.ts';
import { memoOne } from '../common/memo.ts';
import { sleep } from '../common/time.ts';
import { requestHandler } from './aws.ts';
import type { ScorerClientConfig } from './config.ts';
import { LIMITS, type ModelInfo, type ScoreJob, type ScoreJobResult } from './scorer-protocol.ts';

export interface CallOptions {
  /**
   * Epoch ms by which the call must have settled (the caller's own deadline, less what it still has to
   * do after): attempts are cut to fit and none starts without the time for it, so the caller's typed
   * error always comes before its Lambda timeout.
   */
  deadline?: number | undefined;
}

/** An attempt given less time than this is not started. */
export const MIN_ATTEMPT_MS = 1_000;

export interface ScorerClient {
  score(job: ScoreJob, options?: CallOptions): Promise<ScoreJobResult>;
  /** Where it sends jobs, for logs: a function name or a URL. */
  readonly target: string;
}

/** A failure worth another attempt. */
class Transient extends Error {}

/**
 * Runs `attempt` up to maxAttempts times while it throws Transient; backoff base * 2^n with full jitter.
 * Each attempt gets `timeoutMs`, cut to what is left before `deadline`; when less than MIN_ATTEMPT_MS
 * is left, no further attempt starts.
 */
export async function withRetries<T>(
  what: string,
  config: Pick<ScorerClientConfig, 'maxAttempts' | 'backoffMs' | 'timeoutMs'>,
  attempt: (n: number, timeoutMs: number) => Promise<T>,
  onRetry?: (n: number, reason: string) => void,
  deadline = Number.POSITIVE_INFINITY,
): Promise<T> {
  let last = '';
  let n = 0;
  while (n < config.maxAttempts) {
    const left = deadline - Date.now();
    if (left < MIN_ATTEMPT_MS) {
      last = `${last ? `${last}; ` : ''}no time left for attempt ${n + 1} before the caller's deadline`;
      break;
    }
    n++;
    try {
      return await attempt(n, Math.min(config.timeoutMs, left));
    } catch (error) {
      if (!(error instanceof Transient)) throw error;
      last = error.message;
      if (n < config.maxAttempts) {
        onRetry?.(n, last);
        const pause = Math.random() * config.backoffMs * 2 ** (n - 1);
        await sleep(Math.min(pause, Math.max(0, deadline - Date.now() - MIN_ATTEMPT_MS)));
      }
    }
  }
  throw new EdgeError(
    'SCORER_UNAVAILABLE',
    `The scorer (${what}) failed ${n} attempt${n === 1 ? '' : 's'}; last: ${last}`,
  );
}

/** The job as bytes, refused (413, the caller's) when over what a scorer takes in one call. */
function jobPayload(job: ScoreJob): Buffer {
  const payload = Buffer.from(JSON.stringify(job));
  if (payload.length > LIMITS.jobBytes) {
    throw new EdgeError(
      'PAYLOAD_TOO_LARGE',
      `Expected a scoring job of at most ${LIMITS.jobBytes} bytes (Lambda's invoke limit) but this one is ${payload.length} bytes: send fewer items or shorter texts`,
    );
  }
  return payload;
}

function isScoreJobResult(value: unknown): value is ScoreJobResult {
  const v = value as ScoreJobResult | null;
  return !!v && typeof v === 'object' && Array.isArray(v.outcomes) && typeof v.model?.name === 'string';
}

/** The scorer's own typed rejection of a job (bad input): permanent, not retried. */
function jobError(payload: unknown): EdgeError | undefined {
  const p = payload as { error?: { code?: string; message?: string } } | null;
  if (p?.error?.code === 'INVALID_ARGUMENT') {
    return new EdgeError('SCORER_FAILED', `The scorer refused the job: ${p.error.message}`);
  }
  return undefined;
}

export class LambdaScorerClient implements ScorerClient {
  private readonly client: LambdaClient;
  readonly target: string;

  constructor(
    private readonly config: ScorerClientConfig,
    region: string,
    private readonly onRetry?: (n: number, reason: string) => void,
  ) {
    this.target = config.functionName!;
    this.client = new LambdaClient({
      region,
      maxAttempts: 1, // retries are ours, with the same policy for Lambda and HTTP
      requestHandler: requestHandler(config.timeoutMs),
      ...(config.lambdaEndpoint ? { endpoint: config.lambdaEndpoint } : {}),
    });
  }

  score(job: ScoreJob, options: CallOptions = {}): Promise<ScoreJobResult> {
    const bytes = jobPayload(job);
    return withRetries(
      this.target,
      this.config,
      async (_, timeoutMs) => {
        let out: InvokeCommandOutput;
        try {
          out = await this.client.send(
            new InvokeCommand({
              FunctionName: this.config.functionName,
              InvocationType: 'RequestResponse',
              Payload: bytes,
            }),
            { abortSignal: AbortSignal.timeout(timeoutMs) },
          );
        } catch (error) {
          const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
          if (e.name === 'AbortError' || e.name === 'TimeoutError') {
            throw new Transient(`no answer within ${timeoutMs} ms`);
          }
          const status = e.$metadata?.httpStatusCode;
          const permanent = status !== undefined && status >= 400 && status < 500 && status !== 429;
          const reason = `${e.name ?? 'Error'}: ${e.message ?? String(error)}`;
          if (permanent && e.name !== 'TooManyRequestsException') {
            throw new EdgeError('SCORER_FAILED', `Invoking ${this.target} failed: ${reason}`, {
              cause: error,
            });
          }
          throw new Transient(reason);
        }
        const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
        let payload: unknown;
        try {
          payload = text ? JSON.parse(text) : undefined;
        } catch {
          throw new Transient(`unreadable answer from ${this.target}`);
        }
        if (out.FunctionError) {
          const p = payload as { errorType?: string; errorMessage?: string } | undefined;
          throw new Transient(
            `${this.target} failed: ${p?.errorType ?? out.FunctionError}: ${p?.errorMessage ?? ''}`,
          );
        }
        const refused = jobError(payload);
        if (refused) throw refused;
        if (!isScoreJobResult(payload)) throw new Transient(`unexpected answer from ${this.target}`);
        return payload;
      },
      this.onRetry,
      options.deadline,
    );
  }
}

export class HttpScorerClient implements ScorerClient {
  readonly target: string;

  constructor(
    private readonly config: ScorerClientConfig,
    private readonly onRetry?: (n: number, reason: string) => void,
  ) {
    this.target = new URL('/v1/score', config.url!).href;
  }

  score(job: ScoreJob, options: CallOptions = {}): Promise<ScoreJobResult> {
    const bytes = jobPayload(job);
    return withRetries(
      this.target,
      this.config,
      async (_, timeoutMs) => {
        let response: Response;
        try {
          response = await fetch(this.target, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: new Uint8Array(bytes),
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (error) {
          if ((error as Error).name === 'TimeoutError')
            throw new Transient(`no answer within ${timeoutMs} ms`);
          const cause = (error as { cause?: { code?: string } }).cause;
          throw new Transient(`${(error as Error).name}: ${cause?.code ?? (error as Error).message}`);
        }
        const text = await response.text().catch(() => '');
        if (response.status === 429 || response.status >= 500) {
          throw new Transient(`${this.target} answered ${response.status}`);
        }
        let payload: unknown;
        try {
          payload = JSON.parse(text);
        } catch {
          throw new Transient(`unreadable answer from ${this.target} (${response.status})`);
        }
        const refused = jobError(payload);
        if (refused) throw refused;
        if (!response.ok || !isScoreJobResult(payload)) {
          throw new EdgeError('SCORER_FAILED', `${this.target} answered ${response.status}`);
        }
        return payload;
      },
      this.onRetry,
      options.deadline,
    );
  }
}

export function createScorerClient(
  config: ScorerClientConfig,
  region: string,
  onRetry?: (n: number, reason: string) => void,
): ScorerClient {
  return config.url ? new HttpScorerClient(config, onRetry) : new LambdaScorerClient(config, region, onRetry);
}

/**
 * Which model the scorer runs (an empty job answers it), cached for `ttlMs`: a deployment of a new
 * model shows up within that time. Part of every idempotency key.
 */
export function scorerModel(scorer: ScorerClient, ttlMs: number): () => Promise<ModelInfo> {
  return memoOne(() => scorer.score({ items: [] }).then((r) => r.model), {
    ttlMs,
    now: () => performance.now(),
  });
}
