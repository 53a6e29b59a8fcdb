/**
 * The request id: the client's `x-request-id` when it is well-formed (1–128 characters of
 * `[A-Za-z0-9._:-]`, so it is safe in logs and headers), otherwise a fresh UUID. One id per
 * request, under the log key `requestId`, sent on every upstream leg.
 */
import { randomUUID } from 'node:crypto';

const VALID = /^[A-Za-z0-9._:-]{1,128}$/;

export function isValidRequestId(value: string): boolean {
  return VALID.test(value);
}

/** The first header value when valid, else a generated id. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && isValidRequestId(value) ? value : randomUUID();
}
