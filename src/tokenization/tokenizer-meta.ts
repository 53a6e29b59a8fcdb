/** What segmentation needs to know of a tokenizer, read from tokenizer.json where it is loaded. */

/** An entry of tokenizer.json's `added_tokens`. */
export interface AddedTokenInfo {
  id: number;
  content: string;
  special?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
}

/** What segmentation needs from tokenizer.json (read where the tokenizer is loaded). */
export interface TokenizerMeta {
  addedTokens: AddedTokenInfo[];
  /** The `pre_tokenizer` and `normalizer` sections, for the Metaspace check. */
  preTokenizer: unknown;
  normalizer: unknown;
}
