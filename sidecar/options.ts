/**
 * `pd-router sidecar` command line: llm-d routing proxy flags of both generations (deprecated ones
 * folded into their replacements), an env var for each, and `--configuration[-file]` YAML with
 * precedence flag > YAML > env/default. Turns all of it into a validated SidecarConfig.
 * Kept light: the server itself (`./main.js`) is imported only when the command runs.
 */
import { Command } from 'commander';
import { declareOptions, givenNoEffect } from '../src/cli/options.js';
import { logOptionsFrom } from '../src/log-flags.js';
import type { LogOptions } from '../src/log.js';
import { ConfigError } from '../src/config-error.js';
import { SIDECAR_FLAGS, attributeName } from './flag-table.js';
import { mergeYamlConfig, parseYamlConfig, readYamlSource } from './yaml-config.js';
import {
  KV_CONNECTORS, TLS_STAGES, resolveSidecarConfig,
  type KvConnector, type PrefillFailurePolicy, type SidecarConfig, type StageFlags, type TlsStage,
} from './config.js';

/** The `sidecar` command with every flag, without an action (tests parse with it). */
export function buildSidecarCommand(): Command {
  const command = new Command('sidecar')
    .description('P/D sidecar in front of a decode pod\'s vLLM: prefill→decode handoff when x-prefiller-host-port is set, transparent proxy otherwise')
    .allowExcessArguments(false);
  return declareOptions(command, SIDECAR_FLAGS);
}

export function addSidecarCommand(program: Command): void {
  const command = buildSidecarCommand().action(async (_options: unknown, self: Command) => {
    const { config, log, ignoredFlags } = sidecarLaunchFromCommand(self);
    const { runSidecar } = await import('./main.js');
    await runSidecar(config, { log, ignoredFlags });
  });
  program.addCommand(command);
}

/** Parses sidecar arguments (without the `sidecar` word) into a config; throws on any error. */
export function parseSidecarArgs(args: readonly string[]): SidecarConfig {
  const command = buildSidecarCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  command.parse([...args], { from: 'user' });
  return sidecarConfigFromCommand(command);
}

type Source = 'cli' | 'yaml' | 'env' | 'default';
const RANK: Record<Source, number> = { cli: 3, yaml: 2, env: 1, default: 0 };

/** commander values (+ YAML) → SidecarConfig: upstream's Complete() and Validate(). */
export function sidecarConfigFromCommand(command: Command): SidecarConfig {
  return sidecarLaunchFromCommand(command).config;
}

/** What the process needs besides the config: log level/format (-v, --zap-*) and the no-effect flags set. */
export interface SidecarLaunch {
  config: SidecarConfig;
  log: LogOptions;
  /** Upstream flags set (command line, env or YAML) that have no effect here, as `--name`. */
  ignoredFlags: string[];
}

export function sidecarLaunchFromCommand(command: Command): SidecarLaunch {
  const values = { ...command.opts() } as Record<string, unknown>;
  const fromCli = (name: string): boolean => command.getOptionValueSource(attributeName(name)) === 'cli';
  const yamlText = readYamlSource(values.configuration as string | undefined, values.configurationFile as string | undefined);
  const fromYaml = yamlText === undefined ? new Set<string>() : mergeYamlConfig(values, parseYamlConfig(yamlText), fromCli);
  const source = (name: string): Source => {
    if (fromCli(name)) return 'cli';
    if (fromYaml.has(name)) return 'yaml';
    return command.getOptionValueSource(attributeName(name)) === 'env' ? 'env' : 'default';
  };
  const get = <T>(name: string): T => values[attributeName(name)] as T;
  const set = (name: string): boolean => get(name) !== undefined && source(name) !== 'default';
  const fromYamlNoEffect = SIDECAR_FLAGS.filter((spec) => spec.noEffect && fromYaml.has(spec.name)).map((spec) => `--${spec.name}`);
  const given = new Set([...givenNoEffect(command, SIDECAR_FLAGS), ...fromYamlNoEffect]);
  const ignoredFlags = SIDECAR_FLAGS.filter((spec) => given.has(`--${spec.name}`)).map((spec) => `--${spec.name}`);

  const config = resolveSidecarConfig({
    port: get<number>('port'),
    host: get<string>('host'),
    vllmPort: set('model-server-port') && RANK[source('model-server-port')] >= RANK[source('vllm-port')]
      ? get<number>('model-server-port')
      : get<number>('vllm-port'),
    vllmHost: get<string>('vllm-host'),
    dataParallelSize: get<number>('data-parallel-size'),
    kvConnector: kvConnector(get<string | undefined>('kv-connector'), get<string>('connector')),
    ecConnector: get<string | undefined>('ec-connector') ?? '',
    enableSsrfProtection: get<boolean>('enable-ssrf-protection'),
    ssrfAllowlist: get<string[] | undefined>('ssrf-allowlist') ?? [],
    enablePrefillerSampling: get<boolean>('enable-prefiller-sampling'),
    secureProxy: get<boolean>('secure-proxy'),
    certPath: get<string | undefined>('cert-path') ?? '',
    ...tlsStages(get),
    ...inferencePool(get),
    poolGroup: get<string>('pool-group'),
    maxIdleConnsPerHost: get<number>('max-idle-conns-per-host'),
    prefillTimeoutMs: get<number>('prefill-timeout'),
    prefillMaxRetries: get<number>('prefill-max-retries'),
    prefillRetryBackoffMs: get<number>('prefill-retry-backoff'),
    prefillFailurePolicy: get<string>('prefill-failure-policy') as PrefillFailurePolicy,
    sglangBootstrapPort: get<number>('sglang-bootstrap-port'),
    podIp: get<string | undefined>('pod-ip') ?? '',
    decodeChunkSize: get<number>('decode-chunk-size'),
    tracing: get<boolean>('tracing'),
    shutdownGraceMs: get<number>('shutdown-grace'),
    maxBodyBytes: get<number>('max-body-bytes'),
    maxPrefillAnswerBytes: get<number>('max-prefill-answer-bytes'),
    trustClientKvTransferParams: get<boolean>('trust-client-kv-transfer-params'),
    requestHeaderTimeoutMs: get<number>('request-header-timeout'),
    requestBodyTimeoutMs: get<number>('request-body-timeout'),
    metricsPort: get<number>('metrics-port'),
  });
  return { config, log: logOptionsFrom(values), ignoredFlags };
}

/** `--kv-connector` wins; empty falls back to the deprecated `--connector`; `lmcache` is shared-storage's old name. */
function kvConnector(kv: string | undefined, deprecated: string): KvConnector {
  const validate = (value: string, flagName: string): KvConnector => {
    const name = value === 'lmcache' ? 'shared-storage' : value;
    if (!(KV_CONNECTORS as readonly string[]).includes(name)) {
      throw new ConfigError([`--${flagName}`], `must be one of: ${KV_CONNECTORS.join(', ')} (or lmcache), got "${value}"`);
    }
    return name as KvConnector;
  };
  if (deprecated) validate(deprecated, 'connector');
  return kv ? validate(kv, 'kv-connector') : validate(deprecated || 'nixlv2', 'connector');
}

function stageSet(list: string[] | undefined, flagName: string, deprecated: Partial<Record<TlsStage, boolean>>): StageFlags {
  const stages = new Set(list ?? []);
  for (const stage of stages) {
    if (!(TLS_STAGES as readonly string[]).includes(stage)) throw new ConfigError([`--${flagName}`], `stages must be one of: ${TLS_STAGES.join(', ')} (got "${stage}")`);
  }
  for (const [stage, on] of Object.entries(deprecated)) if (on) stages.add(stage);
  return { prefiller: stages.has('prefiller'), decoder: stages.has('decoder'), encoder: stages.has('encoder') };
}

function tlsStages(get: <T>(name: string) => T): Pick<SidecarConfig, 'useTls' | 'insecureSkipVerify'> {
  return {
    useTls: stageSet(get('enable-tls'), 'enable-tls', {
      prefiller: get<boolean>('prefiller-use-tls'),
      decoder: get<boolean>('decoder-use-tls'),
    }),
    insecureSkipVerify: stageSet(get('tls-insecure-skip-verify'), 'tls-insecure-skip-verify', {
      prefiller: get<boolean>('prefiller-tls-insecure-skip-verify'),
      decoder: get<boolean>('decoder-tls-insecure-skip-verify'),
    }),
  };
}

/** `--inference-pool ns/name` or `name` (namespace `default`) overrides the deprecated pair. */
function inferencePool(get: <T>(name: string) => T): Pick<SidecarConfig, 'inferencePoolNamespace' | 'inferencePoolName'> {
  const pool = get<string | undefined>('inference-pool') ?? '';
  if (!pool) {
    return { inferencePoolNamespace: get<string | undefined>('inference-pool-namespace') ?? '', inferencePoolName: get<string | undefined>('inference-pool-name') ?? '' };
  }
  const parts = pool.split('/');
  if (parts.length > 2) throw new ConfigError(['--inference-pool'], 'must be in format \'namespace/name\' or \'name\', not multiple slashes');
  if (parts.some((part) => part === '')) throw new ConfigError(['--inference-pool'], 'cannot have empty namespace or name');
  return parts.length === 2
    ? { inferencePoolNamespace: parts[0]!, inferencePoolName: parts[1]! }
    : { inferencePoolNamespace: 'default', inferencePoolName: parts[0]! };
}
