/** Shared table for the role-filter suites: every role value llm-d knows, plus odd ones. */
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { makeEndpoint } from '../../helpers.js';

export const ALL_ROLES = ['decode', 'prefill', 'encode', 'prefill-decode', 'encode-prefill', 'encode-prefill-decode', 'both', 'encode-decode', ''] as const;

/** One endpoint per role (named after it), plus an unlabeled one named `unlabeled`. */
export function roleEndpoints(): Endpoint[] {
  return [
    ...ALL_ROLES.map((role) => makeEndpoint({ name: role === '' ? 'empty-role' : role, role })),
    makeEndpoint({ name: 'unlabeled' }),
  ];
}
