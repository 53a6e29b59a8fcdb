/** Scheduling failures carry the HTTP status the front doors answer with. */
import { OpenAIError } from '../../src/openai/errors.js';

export class SchedulingError extends OpenAIError {
  constructor(status: number, message: string) {
    super(status, message);
    this.name = 'SchedulingError';
  }
}

/** Configuration problems at start-up; the message starts with the YAML path. */
export class ConfigError extends Error {
  constructor(path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ConfigError';
  }
}
