/**
 * The header names of the contract between the EPP, the sidecar and vLLM — one place for each.
 * docs/architecture.md describes who sets and who reads each one.
 */

/** EPP → sidecar: the prefill pod (`host:port`; a comma list is accepted, first/random entry used). */
export const PREFILL_HEADER = 'x-prefiller-host-port';
/** EPP → sidecar: encoder pods for E/PD (comma list of `host:port`). */
export const ENCODER_HEADER = 'x-encoder-hosts-ports';
/** EPP → sidecar: the data-parallel rank's `host:port` behind one decode pod. */
export const DATA_PARALLEL_HEADER = 'x-data-parallel-host-port';
/** Gateway API Inference Extension: the model name the EPP rewrote the request to. */
export const MODEL_REWRITE_HEADER = 'x-gateway-model-name-rewrite';
/** Client → EPP: the flow-control fairness id (current name first, then llm-d's older one). */
export const FAIRNESS_ID_HEADERS: readonly string[] = ['x-llm-d-inference-fairness-id', 'x-gateway-inference-fairness-id'];
/** Client → EPP: the InferenceObjective whose priority the request takes (current name first). */
export const OBJECTIVE_HEADERS: readonly string[] = ['x-llm-d-inference-objective', 'x-gateway-inference-objective'];
/** The request id: taken from the client when well-formed, otherwise generated; echoed back. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Response header naming why flow control dropped a request (llm-d's name). */
export const DROPPED_REASON_HEADER = 'x-llm-d-request-dropped-reason';

/** Routing headers a client must never be able to set: stripped at the front door. */
export const ROUTING_HEADERS: ReadonlySet<string> = new Set([PREFILL_HEADER, ENCODER_HEADER, DATA_PARALLEL_HEADER]);

/** Request headers that must not reach any upstream leg of the sidecar. */
export const DISAGGREGATION_HEADERS: ReadonlySet<string> = new Set([PREFILL_HEADER, ENCODER_HEADER]);
