/**
 * Errors of the serverless edge (handlers, clients, stores). Like the core's errors each has a stable
 * `code` and an HTTP `status`: 4xx are the caller's input and permanent, 5xx are ours and worth a retry.
 * Core errors (MmlqError) pass through unchanged; `errorPayload()` normalises both.
 */
import {
  type EdgeErrorCode,
  type ErrorCode,
  type ErrorPayload,
  MmlqError,
  STATUS,
  toErrorPayload,
} from '../errors.ts';

export type { EdgeErrorCode };

/** Any code a service payload may carry: the core's or the edge's. */
export type ServiceErrorCode = ErrorCode;
export type ServiceErrorPayload = ErrorPayload;

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
export function isPermanent(payload: ServiceErrorPayload): boolean {
  return statusOf(payload.code) < 500;
}

/** Normalises anything thrown into a payload; unknown errors become a generic INTERNAL. */
export const errorPayload: (error: unknown) => ServiceErrorPayload = toErrorPayload;
