/**
 * The HTTP `Prefer` header (RFC 7240) and its `if-available` token: llm-d's coordinator sends it
 * on a speculative decode attempt ("serve this only if the decode pod already holds the prompt's
 * KV cache"); the EPP answers 412 Precondition Failed when the chosen decode pod has no cached
 * prefix, and the coordinator then runs the full encode → prefill → decode pipeline.
 */
export const PREFER_HEADER = 'prefer';
export const PREFER_IF_AVAILABLE = 'if-available';

/**
 * True when the header value lists the bare `if-available` preference: comma-separated tokens,
 * each with optional `;` parameters, matched case-insensitively and ignoring white space.
 */
export function isConditionalDecode(prefer: string | null | undefined): boolean {
  if (!prefer) return false;
  return prefer.split(',').some((preference) => preference.split(';', 1)[0]!.trim().toLowerCase() === PREFER_IF_AVAILABLE);
}
