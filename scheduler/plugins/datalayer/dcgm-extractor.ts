/**
 * `dcgm-extractor`: turns a `dcgm-data-source` scrape into per-endpoint GPU attributes for
 * `endpoint-attribute-filter` / `-scorer` (with `producer: dcgm-extractor`).
 *
 * Formulas, over the samples that belong to the endpoint (a sample with a `pod` label must name
 * the endpoint's pod — its name without a `-rank-<i>` suffix — as a DaemonSet exporter labels
 * them; a sample without one is kept, as a sidecar exporter serves only its own GPUs):
 * - `GPUUtilization` = max over GPUs of `DCGM_FI_DEV_GPU_UTIL` / 100 (0–1; the busiest GPU), as
 *   llm-d Router;
 * - `GPUMemoryUtilization` = max over GPUs of `DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED +
 *   DCGM_FI_DEV_FB_FREE)` (pairs matched by the `gpu` label; a pd-router addition).
 * A scrape without a metric (or with no sample for this pod) leaves that attribute's previous
 * value; values of endpoints that left the pool are dropped each poll round.
 *
 * Parameters: none.
 *
 * ```yaml
 * - type: dcgm-extractor
 *   name: dcgm-extractor
 * ```
 */
import type { AttributeProducer, PrometheusExtractor, PrometheusPayload } from '../../datalayer/endpoint-attributes.js';
import type { Sample } from '../../datalayer/prometheus-text.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { PluginFactory } from '../../framework/registry.js';

export const DCGM_EXTRACTOR_TYPE = 'dcgm-extractor';
export const GPU_UTILIZATION = 'GPUUtilization';
export const GPU_MEMORY_UTILIZATION = 'GPUMemoryUtilization';

const GPU_UTIL = 'DCGM_FI_DEV_GPU_UTIL';
const FB_USED = 'DCGM_FI_DEV_FB_USED';
const FB_FREE = 'DCGM_FI_DEV_FB_FREE';

/** The pod an endpoint runs in: data-parallel ranks are `<pod>-rank-<i>`. */
export const podNameOf = (endpoint: Endpoint): string => endpoint.name.replace(/-rank-\d+$/, '');

function ofPod(samples: PrometheusPayload, metric: string, pod: string): Sample[] {
  return samples.filter((s) => s.name === metric && Number.isFinite(s.value) && (s.labels.pod === undefined || s.labels.pod === pod));
}

export class DcgmExtractor implements PrometheusExtractor, AttributeProducer {
  readonly type = DCGM_EXTRACTOR_TYPE;
  readonly attributes = [GPU_UTILIZATION, GPU_MEMORY_UTILIZATION] as const;
  private readonly values = new Map<string, Map<string, number>>();

  constructor(readonly name: string) {}

  extract(endpoint: Endpoint, payload: PrometheusPayload): void {
    const pod = podNameOf(endpoint);
    const util = ofPod(payload, GPU_UTIL, pod);
    if (util.length > 0) this.put(endpoint, GPU_UTILIZATION, Math.max(...util.map((s) => s.value)) / 100);
    const free = new Map(ofPod(payload, FB_FREE, pod).map((s) => [s.labels.gpu ?? '', s.value]));
    const memory = ofPod(payload, FB_USED, pod).flatMap((used) => {
      const total = used.value + (free.get(used.labels.gpu ?? '') ?? Number.NaN);
      return total > 0 ? [used.value / total] : [];
    });
    if (memory.length > 0) this.put(endpoint, GPU_MEMORY_UTILIZATION, Math.max(...memory));
    if (util.length === 0) throw new Error(`metric ${GPU_UTIL} has no sample for pod ${pod}`);
  }

  readAttribute(endpoint: Endpoint, attribute: string): number | undefined {
    return this.values.get(endpoint.name)?.get(attribute);
  }

  retain(live: ReadonlySet<string>): void {
    for (const name of this.values.keys()) if (!live.has(name)) this.values.delete(name);
  }

  private put(endpoint: Endpoint, attribute: string, value: number): void {
    let forEndpoint = this.values.get(endpoint.name);
    if (!forEndpoint) this.values.set(endpoint.name, forEndpoint = new Map());
    forEndpoint.set(attribute, value);
  }
}

export const dcgmExtractorFactory: PluginFactory = (name) => new DcgmExtractor(name);
