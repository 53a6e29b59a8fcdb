/**
 * `disagg-headers-handler` (and its seed-era name `prefill-header-handler`): the PreRequest step
 * that tells the decode pod's sidecar where to prefill (run after scheduling, before the request is forwarded).
 *
 * 1. Delete `x-prefiller-host-port`; when the prefill profile's result has an endpoint, set it to
 *    that endpoint's `ip:port` (IPv6 bracketed), e.g. `10.0.0.7:8000`.
 * 2. Delete `x-encoder-hosts-ports`; when the encode profile's result has endpoints, set it to all
 *    of them, comma-joined.
 *
 * Clearing first means a value a client sent never survives a decode-only decision (the Director
 * also strips both headers before scheduling; upstream only cleaned its own map).
 * `disagg-profile-handler` does the same itself, so it needs neither of these; the seed-era
 * `pd-profile-handler` has no PreRequest and must be paired with one of them.
 *
 * Parameters: `prefillProfile` (default `prefill`), `encodeProfile` (default `encode`).
 *
 * ```yaml
 * - type: prefill-header-handler
 *   parameters: {prefillProfile: prefill}
 * ```
 *
 * Span: `llm_d.epp.prerequest.disaggregation` (attributes in docs/configuration.md "Observability of the P/D decision").
 */
import { z } from 'zod';
import { SpanKind, tracer, type Attributes } from '../../../src/telemetry/tracing.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import { ENCODERS_HEADER, EPP_TRACER, PREFILL_HEADER } from '../../framework/director.js';
import type { PreRequest, SchedulingResult } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';

export const DISAGG_HEADERS_HANDLER_TYPE = 'disagg-headers-handler';
export const PREFILL_HEADER_HANDLER_TYPE = 'prefill-header-handler';
export const PREREQUEST_SPAN = 'llm_d.epp.prerequest.disaggregation';

export interface DisaggProfileNames {
  readonly prefillProfile: string;
  readonly encodeProfile: string;
}

/**
 * Writes (or clears) the prefill and encoder headers on `request.headers` from the scheduling
 * result, inside a `llm_d.epp.prerequest.disaggregation` span. Shared by the headers handlers and
 * the disagg profile handler's own PreRequest.
 */
export function setDisaggHeaders(request: InferenceRequest, result: SchedulingResult, profiles: DisaggProfileNames): void {
  const attributes: Attributes = { 'gen_ai.request.id': request.id };
  if (request.targetModel) attributes['gen_ai.request.model'] = request.targetModel;

  request.headers.delete(PREFILL_HEADER);
  const prefill = result.profileResults.get(profiles.prefillProfile);
  const prefillTarget = prefill?.targets[0];
  if (!prefill) {
    attributes['llm_d.epp.pd.disaggregation_used'] = false;
    attributes['llm_d.epp.pd.reason'] = 'no_prefill_profile_result';
  } else if (!prefillTarget) {
    attributes['llm_d.epp.pd.disaggregation_used'] = false;
    attributes['llm_d.epp.pd.reason'] = 'no_prefill_profile_target_endpoints';
  } else {
    request.headers.set(PREFILL_HEADER, prefillTarget.hostPort);
    attributes['llm_d.epp.pd.disaggregation_used'] = true;
    attributes['llm_d.epp.pd.prefill_pod_address'] = prefillTarget.address;
    attributes['llm_d.epp.pd.prefill_pod_port'] = String(prefillTarget.port);
  }

  request.headers.delete(ENCODERS_HEADER);
  const encode = result.profileResults.get(profiles.encodeProfile);
  if (!encode) {
    attributes['llm_d.epp.encode.disaggregation_used'] = false;
    attributes['llm_d.epp.encode.reason'] = 'no_encode_profile_result';
  } else if (encode.targets.length === 0) {
    attributes['llm_d.epp.encode.disaggregation_used'] = false;
    attributes['llm_d.epp.encode.reason'] = 'no_encode_profile_target_endpoints';
  } else {
    const encoders = encode.targets.map((endpoint) => endpoint.hostPort).join(',');
    request.headers.set(ENCODERS_HEADER, encoders);
    attributes['llm_d.epp.encode.disaggregation_used'] = true;
    attributes['llm_d.epp.encode.endpoints'] = encoders;
  }
  tracer(EPP_TRACER).startSpan(PREREQUEST_SPAN, { kind: SpanKind.INTERNAL, attributes }).end();
}

const Parameters = z.looseObject({
  prefillProfile: z.string().min(1).default('prefill'),
  encodeProfile: z.string().min(1).default('encode'),
});

export class DisaggHeadersHandler implements PreRequest {
  constructor(readonly type: string, readonly name: string, readonly profiles: DisaggProfileNames) {}

  preRequest(_ctx: SchedulingContext, request: InferenceRequest, result: SchedulingResult): void {
    setDisaggHeaders(request, result, this.profiles);
  }
}

function headersFactory(type: string): PluginFactory {
  return (name, parameters) => {
    const { prefillProfile, encodeProfile } = parseParameters(Parameters, parameters);
    return new DisaggHeadersHandler(type, name, { prefillProfile, encodeProfile });
  };
}

export const disaggHeadersHandlerFactory = headersFactory(DISAGG_HEADERS_HANDLER_TYPE);
export const prefillHeaderHandlerFactory = headersFactory(PREFILL_HEADER_HANDLER_TYPE);
