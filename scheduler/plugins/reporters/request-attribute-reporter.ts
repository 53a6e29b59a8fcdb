/**
 * `request-attribute-reporter`: llm-d Router's per-request cost reporter. When a response is
 * complete, it evaluates a CEL expression over the response's `usage` and returns the result to
 * Envoy as ext_proc dynamic metadata (`dynamic_metadata[namespace][name] = value`) on the last
 * response message, e.g. for rate-limit or billing filters reading `envoy.lb`.
 *
 * Formula: usage = `{prompt_tokens, completion_tokens, total_tokens}` (0 when the response carried
 * none; total = prompt + completion) plus `prompt_tokens_details.cached_tokens` when known — all
 * numbers are doubles, as upstream's protobuf Struct. If `condition` is set and is not `true`,
 * nothing is reported. Else value = `expression` (an int or a double, truncated to an integer);
 * 0 is not reported (as upstream). An evaluation error (missing field, type mismatch) or a
 * non-number result reports nothing and logs at debug. Expressions use the CEL subset of
 * scheduler/plugins/reporters/cel.ts; anything else fails start-up naming its YAML path.
 *
 * Front doors: ext_proc only. The built-in gateway has no proxy downstream to hand dynamic
 * metadata to, so there the plugin is not consulted (as upstream, where the values exist only in
 * the ext_proc answer).
 *
 * Parameters (upstream's): `attributes` — exactly one entry: `key.namespace` (default `envoy.lb`),
 * `key.name` (required), `expression` (required), `condition` (optional).
 *
 * ```yaml
 * - name: total-tokens-cost-reporter
 *   type: request-attribute-reporter
 *   parameters:
 *     attributes:
 *     - key: {namespace: envoy.lb, name: x-gateway-inference-request-cost}
 *       expression: usage.prompt_tokens + usage.completion_tokens
 *       condition: "has(usage.completion_tokens)"
 * ```
 */
import { z } from 'zod';
import type { Logger } from '../../../src/log.js';
import { ConfigError } from '../../framework/errors.js';
import type { ReportedAttribute, ResponseInfo, ResponseReporter } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { CelEvalError, CelProgram, CelSyntaxError } from './cel.js';

export const REQUEST_ATTRIBUTE_REPORTER_TYPE = 'request-attribute-reporter';
const DEFAULT_NAMESPACE = 'envoy.lb';

const Attribute = z.strictObject({
  key: z.strictObject({ namespace: z.string().default(''), name: z.string().min(1, 'key.name cannot be empty') }),
  expression: z.string().refine((s) => s.trim() !== '', 'expression cannot be empty'),
  condition: z.string().default(''),
});
const Parameters = z.strictObject({ attributes: z.array(Attribute).length(1, 'attributes must contain exactly one entry') });

/** The `usage` variable, shaped as upstream's marshalled Usage struct. */
export function usageVariable(usage: ResponseInfo['usage']): Record<string, unknown> {
  const prompt = usage?.promptTokens ?? 0;
  const completion = usage?.completionTokens ?? 0;
  return {
    prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    ...(usage?.cachedTokens !== undefined ? { prompt_tokens_details: { cached_tokens: usage.cachedTokens } } : {}),
  };
}

export class RequestAttributeReporter implements ResponseReporter {
  readonly type = REQUEST_ATTRIBUTE_REPORTER_TYPE;

  constructor(
    readonly name: string,
    private readonly key: { readonly namespace: string; readonly name: string },
    private readonly expression: CelProgram,
    private readonly condition: CelProgram | undefined,
    private readonly logger: Logger,
  ) {}

  reportResponse(response: ResponseInfo): ReportedAttribute | undefined {
    const usage = usageVariable(response.usage);
    try {
      if (this.condition) {
        const ok = this.condition.evaluate(usage);
        if (ok.t !== 'bool' || !ok.v) return undefined;
      }
      const result = this.expression.evaluate(usage);
      if (result.t !== 'int' && result.t !== 'double') {
        this.logger.debug({ plugin: this.name, result: result.t }, 'request-attribute-reporter: the expression is not a number; nothing reported');
        return undefined;
      }
      const value = Math.trunc(result.v);
      if (value === 0 || !Number.isFinite(value)) return undefined;
      return { namespace: this.key.namespace, name: this.key.name, value };
    } catch (err) {
      if (!(err instanceof CelEvalError)) throw err;
      this.logger.debug({ plugin: this.name, err: err.message }, 'request-attribute-reporter: evaluation failed; nothing reported');
      return undefined;
    }
  }
}

function compile(source: string, path: readonly (string | number)[]): CelProgram {
  try {
    return CelProgram.parse(source);
  } catch (err) {
    if (err instanceof CelSyntaxError) throw new ConfigError(['parameters', ...path], `unsupported CEL: ${err.message}`);
    throw err;
  }
}

export const requestAttributeReporterFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const attribute = p.attributes[0]!;
  const expression = compile(attribute.expression, ['attributes', 0, 'expression']);
  const condition = attribute.condition.trim() === '' ? undefined : compile(attribute.condition, ['attributes', 0, 'condition']);
  const key = { namespace: attribute.key.namespace || DEFAULT_NAMESPACE, name: attribute.key.name };
  return new RequestAttributeReporter(name, key, expression, condition, handle.logger);
};
