/**
 * Errors of the serverless edge (handlers, clients, stores). Like the core's errors each has a stable
 * `code` and an HTTP `status`: 4xx are the caller's input and permanent, 5xx are ours and worth a retry.
 * Core errors (MmlqError) pass through unchanged; `errorPayload()` normalises both.
 */
import { type ErrorCode, isMmlqError, STATUS } from '../errors.ts';

export type EdgeErrorCode =
  | 'URL_NOT_ALLOWED'
  | 'URL_FETCH_FAILED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'RESULT_NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'SCORER_UNAVAILABLE'
  | 'SCORER_FAILED'
  | 'STORAGE_FAILED';

export const EDGE_STATUS: Readonly<Record<EdgeErrorCode, number>> = Object.freeze({
  URL_NOT_ALLOWED: 400,
  URL_FETCH_FAILED: 502,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  RESULT_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  SCORER_UNAVAILABLE: 503,
  SCORER_FAILED: 502,
  STORAGE_FAILED: 503,
});

/** Any code a service payload may carry: the core's or the edge's. */
export type ServiceErrorCode = ErrorCode | EdgeErrorCode;

export interface ServiceErrorPayload {
  code: ServiceErrorCode;
  message: string;
}

export class EdgeError extends Error {
  readonly code: EdgeErrorCode;
  readonly status: number;

  constructor(code: EdgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgeError';
    this.code = code;
    this.status = EDGE_STATUS[code];
  }

  /** True when retrying the same input cannot succeed. */
  get permanent(): boolean {
    return this.status < 500;
  }

  toJSON(): ServiceErrorPayload {
    return { code: this.code, message: this.message };
  }
}

/** A required environment variable is missing or malformed; thrown at cold start. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** HTTP status of a payload code (500 for anything unknown). */
export function statusOf(code: string): number {
  if (code in EDGE_STATUS) return EDGE_STATUS[code as EdgeErrorCode];
  if (code in STATUS) return STATUS[code as ErrorCode];
  return 500;
}

/** True when the failure is the input's fault and a retry cannot help. */
export function isPermanent(payload: ServiceErrorPayload): boolean {
  return statusOf(payload.code) < 500;
}

/** Normalises anything thrown into a payload; unknown errors become a generic INTERNAL. */
export function errorPayload(error: unknown): ServiceErrorPayload {
  if (error instanceof EdgeError || isMmlqError(error)) return error.toJSON();
  return { code: 'INTERNAL', message: 'Internal error' };
}
