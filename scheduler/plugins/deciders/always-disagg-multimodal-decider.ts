/**
 * `always-disagg-multimodal-decider`: run the encode stage (E/PD) when a chat message carries a
 * media content block — `type` ∈ {`image_url`, `video_url`, `input_audio`}.
 * Text-only chat, completions and responses requests → false.
 *
 * Reasons: `multimodal` (yes), `text_only` (no). No parameters.
 *
 * ```yaml
 * - type: always-disagg-multimodal-decider
 * - type: disagg-profile-handler
 *   parameters: {deciders: {encode: always-disagg-multimodal-decider}}
 * ```
 */
import type { InferenceRequest } from '../../framework/request.js';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Decider, PdDecision } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';

export const ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE = 'always-disagg-multimodal-decider';

const MEDIA_BLOCK_TYPES: ReadonlySet<string> = new Set(['image_url', 'video_url', 'input_audio']);

/** True when a chat request has an image, video or audio content block. */
export function hasMultimodalContent(request: InferenceRequest): boolean {
  if (request.body.api !== 'chat_completions') return false;
  for (const message of request.body.body.messages) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content) if (MEDIA_BLOCK_TYPES.has(block.type)) return true;
  }
  return false;
}

const MULTIMODAL: PdDecision = Object.freeze({ disaggregate: true, reason: 'multimodal' });
const TEXT_ONLY: PdDecision = Object.freeze({ disaggregate: false, reason: 'text_only' });

export class AlwaysDisaggMultimodalDecider implements Decider {
  readonly type = ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE;
  constructor(readonly name: string) {}

  decide(_ctx: SchedulingContext, request: InferenceRequest): PdDecision {
    return hasMultimodalContent(request) ? MULTIMODAL : TEXT_ONLY;
  }
}

export const alwaysDisaggMultimodalDeciderFactory: PluginFactory = (name) => new AlwaysDisaggMultimodalDecider(name);
