/**
 * The global scope chat templates render in, built here rather than by `Template.render`:
 *
 *  - `@huggingface/jinja`'s `strftime_now` formats month names with the host's Intl locale and
 *    knows only a few directives; Python (vLLM) formats in the C locale, so e.g. Llama 3.1's
 *    `strftime_now("%d %b %Y")` must give "26 Jul 2024" regardless of `LANG`;
 *  - `Template.render` declares its globals in the same scope as the caller's variables and
 *    refuses duplicates, so request kwargs could not shadow a global (Python lets them). Here the
 *    globals live in a parent scope shared by all renders, the request's variables in a child.
 */
import { Environment, Interpreter, type Template } from '@huggingface/jinja';
import { TemplateError } from './errors.js';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

function pad(value: number, width = 2, fill = '0'): string {
  return String(value).padStart(width, fill);
}

function dayOfYear(date: Date): number {
  const start = new Date(date.getFullYear(), 0, 1);
  return Math.floor((date.getTime() - start.getTime()) / 86_400_000) + 1;
}

function utcOffset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

/** One directive (without `%`, with an optional glibc `-` "no padding" flag), as C-locale strftime. */
function directive(date: Date, code: string, unpadded: boolean): string | undefined {
  const num = (value: number, width = 2): string => (unpadded ? String(value) : pad(value, width));
  const hour12 = date.getHours() % 12 || 12;
  switch (code) {
    case 'a': return DAYS[date.getDay()]!.slice(0, 3);
    case 'A': return DAYS[date.getDay()]!;
    case 'b': case 'h': return MONTHS[date.getMonth()]!.slice(0, 3);
    case 'B': return MONTHS[date.getMonth()]!;
    case 'd': return num(date.getDate());
    case 'e': return pad(date.getDate(), 2, ' ');
    case 'H': return num(date.getHours());
    case 'I': return num(hour12);
    case 'j': return num(dayOfYear(date), 3);
    case 'm': return num(date.getMonth() + 1);
    case 'M': return num(date.getMinutes());
    case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
    case 'S': return num(date.getSeconds());
    case 'y': return num(date.getFullYear() % 100);
    case 'Y': return String(date.getFullYear());
    case 'z': return utcOffset(date);
    case 'F': return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
    case '%': return '%';
    default: return undefined;
  }
}

/** Python's `time.strftime` in the C locale, for the directives chat templates use. */
export function strftime(date: Date, format: string): string {
  return format.replace(/%(-?)([a-zA-Z%])/g, (match, flag: string, code: string) => directive(date, code, flag === '-') ?? match);
}

/** `strftime_now(format)`: the local time now, as transformers' global. */
export function strftimeNow(format: string): string {
  return strftime(new Date(), format);
}

/** `raise_exception(message)`: templates call it to reject a conversation. */
export function raiseException(message: unknown): never {
  throw new TemplateError(String(message));
}

/** Longest list `range` builds: templates loop over messages, and request templates are untrusted. */
const MAX_RANGE = 1_000_000;

/** Python's `range` (the global of the same name), as a list of at most MAX_RANGE numbers. */
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new TemplateError('range() step must not be zero');
  if ((stop - start) / step > MAX_RANGE) throw new TemplateError(`range() longer than ${MAX_RANGE}`);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

function globalScope(): Environment {
  const scope = new Environment();
  const globals: Record<string, unknown> = {
    true: true, false: false, none: null, True: true, False: false, None: null,
    range, strftime_now: strftimeNow, raise_exception: raiseException,
  };
  for (const [name, value] of Object.entries(globals)) scope.set(name, value);
  return scope;
}

const GLOBALS = globalScope();

/** A render's scope: `context` as its variables, in a child of the globals (shadowing them). */
export function templateScope(context: Readonly<Record<string, unknown>>): Environment {
  const scope = new Environment(GLOBALS);
  for (const [name, value] of Object.entries(context)) scope.set(name, value);
  return scope;
}

/** Renders a compiled template with `context` as its variables (shadowing the globals). */
export function renderTemplate(template: Template, context: Readonly<Record<string, unknown>>): string {
  const result = new Interpreter(templateScope(context)).run(template.parsed) as { value: unknown };
  return String(result.value);
}
