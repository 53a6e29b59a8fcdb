/**
 * `always-disagg-pd-decider`: every request that found a decode pod also gets a prefill pod
 * (when the prefill profile finds one). The explicit way to say "always P/D", since
 * `prefix-based-pd-decider` with `nonCachedTokens: 0` means *never*.
 *
 * Reason: `always`. No parameters.
 *
 * ```yaml
 * - type: always-disagg-pd-decider
 * ```
 */
import type { Decider, PdDecision } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';

export const ALWAYS_DISAGG_PD_DECIDER_TYPE = 'always-disagg-pd-decider';

const ALWAYS: PdDecision = Object.freeze({ disaggregate: true, reason: 'always' });

export class AlwaysDisaggPdDecider implements Decider {
  readonly type = ALWAYS_DISAGG_PD_DECIDER_TYPE;
  constructor(readonly name: string) {}

  decide(): PdDecision {
    return ALWAYS;
  }
}

export const alwaysDisaggPdDeciderFactory: PluginFactory = (name) => new AlwaysDisaggPdDecider(name);
