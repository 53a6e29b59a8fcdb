/**
 * OpenAI-shaped errors: `{"error":{"message","type","param","code"}}` with the HTTP status as `code`.
 * Every client-visible failure in pd-router goes through here so clients (and the official `openai`
 * SDK) always get the same envelope and the right status.
 */

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

/** The `type` names vLLM (and llm-d's sidecar) use for each status. */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 400: return 'BadRequestError';
    case 401: return 'AuthenticationError';
    case 403: return 'PermissionDeniedError';
    case 404: return 'NotFoundError';
    case 413: return 'RequestEntityTooLarge';
    case 422: return 'UnprocessableEntityError';
    case 429: return 'RateLimitError';
    case 502: return 'BadGateway';
    case 503: return 'ServiceUnavailable';
    case 504: return 'GatewayTimeout';
    default: return status >= 500 ? 'InternalServerError' : 'APIConnectionError';
  }
}

export class OpenAIError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  /** Extra response headers the error answer carries (e.g. flow control's dropped reason). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, options: { type?: string; param?: string | null; cause?: unknown; headers?: Readonly<Record<string, string>> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OpenAIError';
    this.status = status;
    this.type = options.type ?? errorTypeForStatus(status);
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.status } };
  }

  toJSON(): string {
    return JSON.stringify(this.toBody());
  }
}

/** Turns anything thrown into an OpenAIError; unknown failures are 500s that don't leak internals. */
export function toOpenAIError(err: unknown): OpenAIError {
  if (err instanceof OpenAIError) return err;
  return new OpenAIError(500, 'internal error', { cause: err });
}
