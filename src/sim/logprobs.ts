/**
 * Deterministic fake logprobs in the OpenAI shapes (upstream's scheme): the chosen token gets
 * −1 − 0.1·(position mod 3), alternative j is `<token>_j` with 0.5·j less.
 */

export interface ChatLogprobContent {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs?: ChatLogprobContent[];
}

export interface TextLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Array<Record<string, number>>;
  text_offset: number[];
}

function logprob(position: number, alternative: number): number {
  return -1 - (position % 3) * 0.1 - alternative * 0.5;
}

function bytesOf(token: string): number[] | null {
  return token === '' ? null : [...Buffer.from(token, 'utf8')];
}

export function chatTokenLogprob(token: string, position: number, top: number): ChatLogprobContent {
  const content: ChatLogprobContent = { token, logprob: logprob(position, 0), bytes: bytesOf(token) };
  if (top > 0) {
    content.top_logprobs = [{ token, logprob: logprob(position, 0), bytes: bytesOf(token) }];
    for (let j = 1; j < top; j++) {
      const alternative = `${token}_${j}`;
      content.top_logprobs.push({ token: alternative, logprob: logprob(position, j), bytes: bytesOf(alternative) });
    }
  }
  return content;
}

export function chatLogprobs(tokens: readonly string[], top: number): { content: ChatLogprobContent[] } {
  return { content: tokens.map((token, i) => chatTokenLogprob(token, i, top)) };
}

export function textLogprobs(tokens: readonly string[], top: number, firstPosition = 0): TextLogprobs {
  const count = Math.max(1, top);
  const result: TextLogprobs = { tokens: [...tokens], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = 0;
  tokens.forEach((token, i) => {
    const position = firstPosition + i;
    result.text_offset.push(offset);
    offset += Buffer.byteLength(token);
    result.token_logprobs.push(logprob(position, 0));
    const alternatives: Record<string, number> = { [token]: logprob(position, 0) };
    for (let j = 1; j < count; j++) alternatives[`${token}_${j}`] = logprob(position, j);
    result.top_logprobs.push(alternatives);
  });
  return result;
}
