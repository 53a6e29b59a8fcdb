/**
 * The simulator's default tokenizer. It lives in src/tokenization (simulated.ts) so the EPP's
 * precise prefix-cache scorer can tokenize like the simulator without depending on it.
 */
export * from '../tokenization/simulated.js';
