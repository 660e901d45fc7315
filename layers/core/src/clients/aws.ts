/**
 * What every AWS SDK client of the project shares: a request handler whose timeouts fail the call.
 * @smithy/node-http-handler's `requestTimeout` only logs a warning unless `throwOnRequestTimeout` is
 * set, and it stops counting once the headers arrive: `socketTimeout` covers a body that stalls.
 */
export function requestHandler(timeoutMs: number) {
  return {
    requestTimeout: timeoutMs,
    throwOnRequestTimeout: true,
    socketTimeout: timeoutMs,
    connectionTimeout: Math.min(timeoutMs, 5000),
  };
}
