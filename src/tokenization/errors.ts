/**
 * Why a request could not be turned into tokens. Callers (the precise prefix-cache scorer, the
 * simulator) treat any of these as "no tokens": the request is still routed, just without a
 * prefix-cache score.
 */
export type TokenizationErrorCode = 'model_not_found' | 'tokenizer_load' | 'template' | 'unsupported' | 'encode' | 'overloaded';

/** The tokenizer pool's queue is full: the caller should go on without tokens rather than wait. */
export const OVERLOADED = 'overloaded';

export class TokenizationError extends Error {
  override readonly name: string = 'TokenizationError';

  constructor(readonly code: TokenizationErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Template problems: no template, `raise_exception(...)`, parse errors, bad flag combinations. */
export class TemplateError extends TokenizationError {
  override readonly name = 'TemplateError';

  constructor(message: string, options?: ErrorOptions) {
    super('template', message, options);
  }
}
