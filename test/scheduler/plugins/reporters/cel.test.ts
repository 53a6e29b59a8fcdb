/** The CEL subset of request-attribute-reporter: what parses, what is refused, how it evaluates. */
import { describe, expect, it } from 'vitest';
import { CelEvalError, CelProgram, CelSyntaxError } from '../../../../scheduler/plugins/reporters/cel.js';

const USAGE = { prompt_tokens: 32, completion_tokens: 10, total_tokens: 42, prompt_tokens_details: { cached_tokens: 16 } };
const run = (src: string, usage: unknown = USAGE) => CelProgram.parse(src).evaluate(usage);

describe('CEL subset: evaluation', () => {
  it.each([
    ['usage.completion_tokens', { t: 'double', v: 10 }],
    ['usage.prompt_tokens + usage.completion_tokens', { t: 'double', v: 42 }],
    ['usage.prompt_tokens_details.cached_tokens', { t: 'double', v: 16 }],
    ['(has(usage.prompt_tokens) ? usage.prompt_tokens : 0.0) * 2.0', { t: 'double', v: 64 }],
    ['int(usage.prompt_tokens) / 5', { t: 'int', v: 6 }],
    ['-7 / 2', { t: 'int', v: -3 }],
    ['7 % 3 + 1', { t: 'int', v: 2 }],
    ['double(3) / 2.0', { t: 'double', v: 1.5 }],
    ['has(usage.completion_tokens) && usage.completion_tokens > 5', { t: 'bool', v: true }],
    ['has(usage.nope)', { t: 'bool', v: false }],
    ['has(usage.prompt_tokens_details.cached_tokens)', { t: 'bool', v: true }],
    ['usage.total_tokens == 42', { t: 'bool', v: true }],
    ['!(usage.total_tokens != 42) || false', { t: 'bool', v: true }],
    ['1 + 2 * 3 - 4', { t: 'int', v: 3 }],
    ['true ? 1 : 2', { t: 'int', v: 1 }],
    ['// a comment\nusage.completion_tokens // trailing', { t: 'double', v: 10 }],
    ['usage.nope > 1 || true', { t: 'bool', v: true }],
    ['false && usage.nope > 1', { t: 'bool', v: false }],
  ])('%s', (src, expected) => {
    expect(run(src)).toEqual(expected);
  });

  it.each([
    ['usage.nope', /no such key: nope/],
    ['usage.prompt_tokens + 1', /no matching overload for double \+ int/],
    ['1 / 0', /division by zero/],
    ['9007199254740991 + 1', /overflow/],
    ['usage.completion_tokens.x', /not a map/],
    ['usage.nope > 1 || false', /no such key/],
    ['1 ? 2 : 3', /expected a bool/],
    ['!1', /expected a bool/],
    ['1.5 % 1.0', /no matching overload/],
  ])('%s is an evaluation error', (src, message) => {
    expect(() => run(src)).toThrow(CelEvalError);
    expect(() => run(src)).toThrow(message);
  });
});

describe('CEL subset: strict parsing', () => {
  it.each([
    ['usage.prompt_tokens + cost', /undeclared reference to "cost"/],
    ['"tokens"', /unsupported character/],
    ['size(usage)', /undeclared reference to "size"/],
    ['usage.prompt_tokens.size()', /method size\(\) is not supported/],
    ['usage["prompt_tokens"]', /unsupported character/],
    ['[1, 2]', /unsupported character/],
    ['has(usage)', /has\(\) takes a field selection/],
    ['1 < 2 < 3', /chained comparison/],
    ['usage.prompt_tokens +', /unexpected end/],
    ['(1', /expected "\)"/],
    ['1u', /unexpected "u"|unsupported/],
    ['', /unexpected end/],
    ['usage.x in usage', /unexpected "in"/],
  ])('%s', (src, message) => {
    expect(() => CelProgram.parse(src)).toThrow(CelSyntaxError);
    expect(() => CelProgram.parse(src)).toThrow(message);
  });
});
