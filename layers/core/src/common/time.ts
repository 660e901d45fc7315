/** Waiting. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Settles like `work`, or rejects with `onTimeout()` after `ms`. For clients that take no abort
 * signal: the caller gets its typed error in time, the abandoned request ends with its socket.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** What a Lambda handler knows of its own time limit (the context's getRemainingTimeInMillis). */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

/**
 * The epoch ms by which work must be done so that the function still answers with its own typed error:
 * its remaining time less `reserveMs` (for the writes and the answer after). Without a context (a
 * direct call), no deadline.
 */
export function deadlineOf(context: RemainingTime | undefined, reserveMs: number): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return remaining === undefined ? undefined : Date.now() + remaining - reserveMs;
}
