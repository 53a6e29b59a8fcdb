/**
 * Where a model's tokenizer lives on local disk, and the small files beside it that rendering
 * needs. A router must never reach a model hub at run time, so models
 * are found only in directories the operator configured:
 *
 *  1. an explicit `modelDirs[model]` (like llm-d's `modelTokenizerMap`), itself or, when it is a
 *     Hugging Face cache model directory (`models--org--name`), its snapshot;
 *  2. in each search directory, the Hugging Face cache layout `models--org--name` (also under
 *     `hub/`, i.e. an `HF_HOME`), whose `refs/main` names the snapshot to use;
 *  3. in each search directory, the model name as a relative path (`<dir>/org/name/tokenizer.json`);
 *  4. `defaultDir` for any model (the simulator's `--tokenizer <dir>`).
 *
 * Model names come from client requests, so a name that could escape a search directory is
 * refused rather than joined into a path.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';

export const TOKENIZER_FILE = 'tokenizer.json';

export interface ModelLocations {
  /** model name → directory holding tokenizer.json (takes precedence). */
  modelDirs?: Readonly<Record<string, string>>;
  /** Directories searched for `models--org--name` (HF cache) or `org/name` sub-directories. */
  searchDirs?: readonly string[];
  /** Directory used for every model not found otherwise. */
  defaultDir?: string;
}

/** Chat templates a model ships: the default one and named ones (e.g. `tool_use`). */
export interface ModelTemplates {
  default?: string;
  named: Readonly<Record<string, string>>;
}

/** Template variables transformers passes from the tokenizer's `special_tokens_map`. */
export type SpecialTokens = Readonly<Record<string, string | readonly string[]>>;

export interface ModelConfig {
  templates: ModelTemplates;
  specialTokens: SpecialTokens;
}

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** A name usable as a relative path: no absolute paths, `..`, backslashes or NULs. */
export function isSafeModelName(model: string): boolean {
  if (model.length === 0 || isAbsolute(model) || model.includes('\\') || model.includes('\0')) return false;
  return model.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** `org/name` → `models--org--name`, the Hugging Face hub cache directory name. */
export function hubCacheName(model: string): string {
  return `models--${model.split('/').join('--')}`;
}

function isFileSync(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The snapshot of a Hugging Face cache model directory (`models--org--name`): the one `refs/main`
 * names, else the newest snapshot holding a tokenizer.json; undefined when there is none.
 * Synchronous: it runs when a tokenizer is first loaded (a few `stat`s), and the simulator's
 * start-up path needs it synchronously.
 */
export function hubSnapshot(modelDir: string): string | undefined {
  let ref = '';
  try {
    ref = readFileSync(join(modelDir, 'refs', 'main'), 'utf8').trim();
  } catch {
    // no refs/main: look at the snapshots
  }
  if (ref && isSafeModelName(ref) && !ref.includes('/') && isFileSync(join(modelDir, 'snapshots', ref, TOKENIZER_FILE))) {
    return join(modelDir, 'snapshots', ref);
  }
  let names: string[] = [];
  try {
    names = readdirSync(join(modelDir, 'snapshots'));
  } catch {
    return undefined;
  }
  let best: { dir: string; mtime: number } | undefined;
  for (const name of names) {
    const dir = join(modelDir, 'snapshots', name);
    try {
      const info = statSync(join(dir, TOKENIZER_FILE));
      if (info.isFile() && (!best || info.mtimeMs > best.mtime)) best = { dir, mtime: info.mtimeMs };
    } catch {
      // no tokenizer in this snapshot
    }
  }
  return best?.dir;
}

/** `dir` itself when it holds tokenizer.json, else the snapshot of a hub cache model directory. */
export function resolveTokenizerDir(dir: string): string | undefined {
  if (isFileSync(join(dir, TOKENIZER_FILE))) return dir;
  return hubSnapshot(dir);
}

/** The directory holding `model`'s tokenizer.json, or undefined when no configured place has it. */
export async function findModelDir(model: string, locations: ModelLocations): Promise<string | undefined> {
  const explicit = locations.modelDirs?.[model];
  if (explicit !== undefined) return resolveTokenizerDir(explicit) ?? explicit;
  if (isSafeModelName(model)) {
    for (const root of locations.searchDirs ?? []) {
      for (const cacheDir of [join(root, hubCacheName(model)), join(root, 'hub', hubCacheName(model))]) {
        const snapshot = hubSnapshot(cacheDir);
        if (snapshot) return snapshot;
      }
      if (await isFile(join(root, model, TOKENIZER_FILE))) return join(root, model);
    }
  }
  return locations.defaultDir;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A special token from tokenizer_config.json: a string or an AddedToken object (`content`). */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** `chat_template` is a string or a list of `{name, template}` (transformers' named templates). */
function parseTemplates(value: unknown): ModelTemplates {
  if (typeof value === 'string') return { default: value, named: {} };
  const named: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const item of value as Array<{ name?: unknown; template?: unknown }>) {
      if (typeof item?.name === 'string' && typeof item.template === 'string') named[item.name] = item.template;
    }
  }
  return named.default !== undefined ? { default: named.default, named } : { named };
}

/**
 * Reads `tokenizer_config.json` (templates, special tokens), `special_tokens_map.json` (special
 * tokens the config lacks) and `chat_template.jinja` (newer transformers save the template there;
 * it wins over the config's, as in transformers).
 */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const config = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const map = (await readJson(join(dir, 'special_tokens_map.json'))) ?? {};
  const templates = parseTemplates(config.chat_template);
  const jinja = await readFile(join(dir, 'chat_template.jinja'), 'utf8').catch(() => undefined);
  if (jinja !== undefined) templates.default = jinja;

  const specialTokens: Record<string, string | string[]> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const content = tokenContent(config[key]) ?? tokenContent(map[key]);
    if (content !== undefined) specialTokens[key] = content;
  }
  const additional = config.additional_special_tokens ?? map.additional_special_tokens;
  if (Array.isArray(additional)) {
    specialTokens.additional_special_tokens = additional.map(tokenContent).filter((token) => token !== undefined);
  }
  return { templates, specialTokens };
}
