/**
 * LoRA adapters: loading an adapter only registers its name (any
 * registered name is a valid `model`); running requests take one of `max-loras` slots, an idle
 * adapter (no running request) can be evicted to make room. Slot ids are 1-based and stable while
 * loaded (they become the BlockStored `lora_id`). Also tracks running/waiting requests per adapter
 * for `vllm:lora_requests_info`.
 */
import type { LoraGate } from './dispatcher.js';

export interface LoraModule {
  name: string;
  path?: string;
  base_model_name?: string;
}

export interface LoraListener {
  loaded?(name: string): void;
  unloaded?(name: string): void;
  /** Running/waiting adapter sets changed. */
  usageChanged?(running: string[], waiting: string[]): void;
}

export class LoraManager implements LoraGate {
  private readonly registered = new Map<string, string>();
  /** Loaded adapter → running references. */
  private readonly loaded = new Map<string, number>();
  private readonly slots: Array<string | null>;
  private readonly runningUse = new Map<string, number>();
  private readonly waitingUse = new Map<string, number>();

  constructor(readonly maxLoras: number, modules: readonly LoraModule[] = [], private readonly listener: LoraListener = {}) {
    this.slots = new Array<string | null>(maxLoras).fill(null);
    for (const module of modules) this.register(module.name, module.path ?? '');
  }

  register(name: string, path: string): void {
    this.registered.set(name, path);
  }

  unregister(name: string): void {
    this.registered.delete(name);
  }

  isLora(model: string): boolean {
    return this.registered.has(model);
  }

  names(): string[] {
    return [...this.registered.keys()];
  }

  /** The adapter's path, or its name when registered without one. */
  pathOf(name: string): string {
    return this.registered.get(name) || name;
  }

  isLoaded(name: string): boolean {
    return !this.isLora(name) || this.loaded.has(name);
  }

  /** 1-based slot of a loaded adapter, 0 when not loaded. */
  idOf(name: string): number {
    return this.slots.indexOf(name) + 1;
  }

  acquire(name: string): boolean {
    if (!this.isLora(name)) return true;
    const references = this.loaded.get(name);
    if (references !== undefined) {
      this.loaded.set(name, references + 1);
      return true;
    }
    if (this.loaded.size >= this.maxLoras && !this.evictIdle()) return false;
    this.loaded.set(name, 1);
    const free = this.slots.indexOf(null);
    if (free >= 0) this.slots[free] = name;
    this.listener.loaded?.(name);
    return true;
  }

  release(name: string): void {
    const references = this.loaded.get(name);
    if (references === undefined) return;
    this.loaded.set(name, Math.max(0, references - 1));
  }

  /** A request for `name` entered the waiting queue (`queued`) or left it. */
  markWaiting(name: string, queued: boolean): void {
    if (!this.isLora(name)) return;
    this.bump(this.waitingUse, name, queued ? 1 : -1);
  }

  /** A request for `name` started (`running`) or ended. */
  markRunning(name: string, running: boolean): void {
    if (!this.isLora(name)) return;
    this.bump(this.runningUse, name, running ? 1 : -1);
  }

  private bump(map: Map<string, number>, name: string, delta: number): void {
    const next = (map.get(name) ?? 0) + delta;
    if (next > 0) map.set(name, next);
    else map.delete(name);
    this.listener.usageChanged?.([...this.runningUse.keys()], [...this.waitingUse.keys()]);
  }

  private evictIdle(): boolean {
    for (const [name, references] of this.loaded) {
      if (references > 0) continue;
      this.loaded.delete(name);
      const slot = this.slots.indexOf(name);
      if (slot >= 0) this.slots[slot] = null;
      this.listener.unloaded?.(name);
      return true;
    }
    return false;
  }
}
