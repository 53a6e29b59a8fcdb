/**
 * Which flow and priority band a request belongs to, from its headers (llm-d's rules):
 * - fairness id: `x-llm-d-inference-fairness-id` (or the older `x-gateway-inference-fairness-id`),
 *   else `default-flow`;
 * - priority: the `priority` of the InferenceObjective named by `x-llm-d-inference-objective` (or
 *   `x-gateway-inference-objective`); 0 when no objective is named, or it is unknown, or it sets none.
 * Both headers are client-controlled: a value that is not 1–128 printable ASCII characters is a 400
 * (the fairness id becomes a metric label, so its length and alphabet are bounded).
 */
import { OpenAIError } from '../../src/openai/errors.js';
import { FAIRNESS_ID_HEADERS, OBJECTIVE_HEADERS } from '../../src/wire/headers.js';
import { DEFAULT_FAIRNESS_ID } from './types.js';

export interface FlowKey {
  readonly fairnessId: string;
  readonly priority: number;
  /** The objective named by the request, when any. */
  readonly objective?: string;
}

/** Priority of an InferenceObjective by name; undefined when unknown or unset. */
export type ObjectivePriorities = (name: string) => number | undefined;

const VALID = /^[\x21-\x7e]{1,128}$/;

function header(headers: ReadonlyMap<string, string>, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== undefined) return { name, value: value.trim() };
  }
  return undefined;
}

export function flowKeyOf(headers: ReadonlyMap<string, string>, objectives: ObjectivePriorities): FlowKey {
  const fairness = header(headers, FAIRNESS_ID_HEADERS);
  if (fairness && !VALID.test(fairness.value)) throw new OpenAIError(400, `${fairness.name} must be 1-128 printable ASCII characters`, { param: fairness.name });
  const objective = header(headers, OBJECTIVE_HEADERS);
  if (objective && !VALID.test(objective.value)) throw new OpenAIError(400, `${objective.name} must be 1-128 printable ASCII characters`, { param: objective.name });
  const priority = objective ? objectives(objective.value) ?? 0 : 0;
  return { fairnessId: fairness?.value ?? DEFAULT_FAIRNESS_ID, priority, ...(objective ? { objective: objective.value } : {}) };
}
