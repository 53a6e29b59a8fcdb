/** Structured JSON logs (pino). LOG_LEVEL sets the level; children carry the component and request id. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}
