/**
 * Kubernetes label selector syntax, checked before it is sent to the API server (which applies
 * it): `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
 * `key>1`, `key<1`, joined by commas. Keys may carry a DNS prefix (`app.kubernetes.io/name`).
 * Used by `--endpoint-selector`; a malformed selector fails start-up instead of a retry loop.
 */
const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const KEY = `(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?${NAME}`;
const VALUE = `(?:${NAME})?`;
const TERMS = [
  new RegExp(`^!?\\s*${KEY}$`),
  new RegExp(`^${KEY}\\s*(?:=|==|!=)\\s*${VALUE}$`),
  new RegExp(`^${KEY}\\s+(?:in|notin)\\s*\\(\\s*${VALUE}(?:\\s*,\\s*${VALUE})*\\s*\\)$`),
  new RegExp(`^${KEY}\\s*[<>]\\s*-?\\d+$`),
];

/** Splits at the commas outside parentheses. */
function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const char = selector[i];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      out.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  out.push(selector.slice(start));
  return out.map((term) => term.trim());
}

/** The selector, trimmed; throws an Error naming the first malformed term. */
export function checkLabelSelector(selector: string): string {
  const trimmed = selector.trim();
  if (trimmed === '') throw new Error('is empty');
  for (const term of terms(trimmed)) {
    if (!TERMS.some((pattern) => pattern.test(term))) throw new Error(`"${trimmed}" is not a label selector: bad term "${term}"`);
  }
  return trimmed;
}
