/**
 * The request id of one request through the EPP: the client's `x-request-id` when it is
 * well-formed (1–128 characters of `A–Z a–z 0–9 . _ : -`), otherwise a fresh UUID. The id is
 * logged under `requestId`, passed upstream (so the sidecar logs the same id) and returned to the
 * client in `x-request-id`.
 */
import { randomUUID } from 'node:crypto';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(clientValue: string | undefined): string {
  return clientValue !== undefined && WELL_FORMED.test(clientValue) ? clientValue : randomUUID();
}
