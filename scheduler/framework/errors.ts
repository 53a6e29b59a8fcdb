/** Scheduling failures carry the HTTP status the front doors answer with. */
import { OpenAIError } from '../../src/openai/errors.js';

export class SchedulingError extends OpenAIError {
  constructor(status: number, message: string) {
    super(status, message);
    this.name = 'SchedulingError';
  }
}

/** Configuration problems at start-up: a YAML path, a detail, and file/line when known. */
export { ConfigError, formatConfigError, formatPath, type ConfigPath } from '../../src/config-error.js';
