/**
 * P/D roles carried by the pod label `llm-d.ai/role`, and which roles each role
 * filter keeps. `both` is deprecated upstream but still accepted. `encode-decode` appears in llm-d's
 * docs, yet no filter accepts it (upstream quirk, kept).
 */
export { ROLE_LABEL } from '../../framework/endpoint.js';

export const ROLE_DECODE = 'decode';
export const ROLE_PREFILL = 'prefill';
export const ROLE_ENCODE = 'encode';
export const ROLE_PREFILL_DECODE = 'prefill-decode';
export const ROLE_ENCODE_PREFILL = 'encode-prefill';
export const ROLE_ENCODE_PREFILL_DECODE = 'encode-prefill-decode';
/** Deprecated alias of `prefill-decode`. */
export const ROLE_BOTH = 'both';

/** Roles that can serve the decode stage; unlabeled pods also count as decode. */
export const DECODE_ROLES: readonly string[] = [ROLE_DECODE, ROLE_PREFILL_DECODE, ROLE_BOTH, ROLE_ENCODE_PREFILL_DECODE];
/** Roles that can serve the prefill stage. */
export const PREFILL_ROLES: readonly string[] = [ROLE_PREFILL, ROLE_ENCODE_PREFILL, ROLE_PREFILL_DECODE, ROLE_BOTH, ROLE_ENCODE_PREFILL_DECODE];
/** Roles that can serve the encode stage. */
export const ENCODE_ROLES: readonly string[] = [ROLE_ENCODE, ROLE_ENCODE_PREFILL, ROLE_ENCODE_PREFILL_DECODE];
