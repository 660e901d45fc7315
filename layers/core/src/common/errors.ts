/**
 * The one error hierarchy of the project: the scoring core, the clients, the functions and the CLI.
 * Every error a caller can act on has a stable `code`, an HTTP `status` (4xx: the caller's input and
 * permanent; 5xx: ours and worth a retry), and a message that says what was expected and what was
 * received. `toErrorPayload()` normalises anything thrown; unknown errors become a generic INTERNAL.
 */

export type ErrorCode = CoreErrorCode | EdgeErrorCode;

/** Codes of the scoring core. */
export type CoreErrorCode =
  | 'IMAGE_EMPTY'
  | 'IMAGE_UNSUPPORTED_FORMAT'
  | 'IMAGE_CORRUPT'
  | 'IMAGE_TOO_MANY_PIXELS'
  | 'IMAGE_TOO_MANY_BYTES'
  | 'IMAGE_TOO_SMALL'
  | 'IMAGE_NOT_FOUND'
  | 'INVALID_ARGUMENT'
  | 'MODEL_NOT_FOUND'
  | 'MANIFEST_INVALID'
  | 'MODEL_FILE_MISMATCH'
  | 'MODEL_LOAD_FAILED'
  | 'INFERENCE_FAILED'
  | 'INTERNAL';

/** Codes of the serverless edge: clients, stores and handlers. */
export type EdgeErrorCode =
  | 'URL_NOT_ALLOWED'
  | 'URL_FETCH_FAILED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'RESULT_NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'SCORER_UNAVAILABLE'
  | 'SCORER_FAILED'
  | 'STORAGE_FAILED'
  | 'WEBHOOK_UNAUTHORIZED'
  | 'WORDPRESS_FAILED';

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

/** HTTP status per code. 4xx: the caller's input, permanent; 5xx: ours, worth a retry. */
export const STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  IMAGE_EMPTY: 422,
  IMAGE_UNSUPPORTED_FORMAT: 415,
  IMAGE_CORRUPT: 422,
  IMAGE_TOO_MANY_PIXELS: 413,
  IMAGE_TOO_MANY_BYTES: 413,
  IMAGE_TOO_SMALL: 422,
  IMAGE_NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
  MODEL_NOT_FOUND: 404,
  MANIFEST_INVALID: 500,
  MODEL_FILE_MISMATCH: 500,
  MODEL_LOAD_FAILED: 500,
  INFERENCE_FAILED: 500,
  INTERNAL: 500,
  URL_NOT_ALLOWED: 400,
  URL_FETCH_FAILED: 502,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  RESULT_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  SCORER_UNAVAILABLE: 503,
  SCORER_FAILED: 502,
  STORAGE_FAILED: 503,
  WEBHOOK_UNAUTHORIZED: 401,
  WORDPRESS_FAILED: 502,
});

export class MmlqError extends Error {
  readonly code: ErrorCode;
  /** HTTP status the API layer answers with. 4xx: the caller's input; 5xx: ours. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MmlqError';
    this.code = code;
    this.status = STATUS[code];
  }

  /** Rebuilds an error from its payload (e.g. a per-item outcome or a scorer's response). */
  static fromPayload(payload: ErrorPayload): MmlqError {
    return new MmlqError(payload.code, payload.message);
  }

  /** True when retrying the same input cannot succeed (bad input), false for transient/internal failures. */
  get permanent(): boolean {
    return this.status < 500;
  }

  toJSON(): ErrorPayload {
    return { code: this.code, message: this.message };
  }
}

/** The image bytes cannot be scored: empty, not an image, corrupt, too large. */
export class ImageError extends MmlqError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ImageError';
  }
}

/** A caller passed an option or argument of the wrong shape. */
export class InvalidArgumentError extends MmlqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** A model could not be found, validated or loaded. */
export class ModelError extends MmlqError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ModelError';
  }
}

/** onnxruntime failed while running a batch. */
export class InferenceError extends MmlqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INFERENCE_FAILED', message, options);
    this.name = 'InferenceError';
  }
}

/** Describes a value for an error message: `1.5 of type number`, `"abc" of type string`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'string')
    return `${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)} of type string`;
  if (typeof value === 'object') return `an object of type ${value.constructor?.name ?? 'Object'}`;
  return `${String(value)} of type ${typeof value}`;
}

export function isMmlqError(error: unknown): error is MmlqError {
  return error instanceof MmlqError;
}

/** Normalises anything thrown into the stable payload shape used by every output (CLI, API, sinks). */
export function toErrorPayload(error: unknown): ErrorPayload {
  if (isMmlqError(error)) return error.toJSON();
  return { code: 'INTERNAL', message: 'Internal error while scoring' };
}

/** An error of the serverless edge (handlers, clients, stores). */
export class EdgeError extends MmlqError {
  declare readonly code: EdgeErrorCode;

  constructor(code: EdgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'EdgeError';
  }
}

/** A required environment variable is missing or malformed; thrown at cold start. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** HTTP status of a payload code (500 for anything unknown, e.g. from a newer scorer). */
export function statusOf(code: string): number {
  return code in STATUS ? STATUS[code as ErrorCode] : 500;
}

/** True when the failure is the input's fault and a retry cannot help. */
export function isPermanent(payload: ErrorPayload): boolean {
  return statusOf(payload.code) < 500;
}
