import { describe, expect, it } from 'vitest';
import { AlwaysDisaggMultimodalDecider, hasMultimodalContent } from '../../../../scheduler/plugins/deciders/always-disagg-multimodal-decider.js';
import { makeContext, makeRequest } from '../../helpers.js';

function chatWith(...blocks: Array<Record<string, unknown>>) {
  return makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'describe this' }, ...blocks] }] });
}

describe('always-disagg-multimodal-decider', () => {
  const decider = new AlwaysDisaggMultimodalDecider('mm');
  const ctx = makeContext([]);

  it('text only → no encode', () => {
    expect(decider.decide(ctx, chatWith())).toEqual({ disaggregate: false, reason: 'text_only' });
    expect(decider.decide(ctx, makeRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }))).toEqual({ disaggregate: false, reason: 'text_only' });
  });

  it('image, video or audio block → encode', () => {
    expect(decider.decide(ctx, chatWith({ type: 'image_url', image_url: { url: 'https://example.com/i.jpg' } }))).toEqual({ disaggregate: true, reason: 'multimodal' });
    expect(decider.decide(ctx, chatWith({ type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } }))).toEqual({ disaggregate: true, reason: 'multimodal' });
    expect(decider.decide(ctx, chatWith({ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }))).toEqual({ disaggregate: true, reason: 'multimodal' });
  });

  it('completions and responses requests never carry media blocks', () => {
    expect(hasMultimodalContent(makeRequest({ model: 'm', prompt: 'image_url' }))).toBe(false);
    expect(hasMultimodalContent(makeRequest({ model: 'm', input: 'image_url' }))).toBe(false);
  });
});
