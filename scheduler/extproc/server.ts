/**
 * The EPP's Envoy front door: a gRPC server for `envoy.service.ext_proc.v3.ExternalProcessor/Process`
 * in FULL_DUPLEX_STREAMED mode (docs/extproc.md). TLS by default with the given or a self-signed
 * certificate (ALPN h2, as grpc-js always negotiates); plaintext with `secure: false`.
 */
import type { SecureContextOptions, SecureVersion } from 'node:tls';
import type { FlowControlAdmission } from '../flowcontrol/admission.js';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../src/log.js';
import { selfSignedCertificate, watchCertificateDir, type TlsMaterial } from '../../src/http/tls.js';
import type { Director } from '../framework/director.js';
import type { ResponseReporter } from '../framework/plugins.js';
import type { Endpoint } from '../framework/endpoint.js';
import type { EppMetrics } from '../metrics.js';
import { defaultParsers } from '../config/parsers.js';
import type { RequestParser } from '../plugins/parsers/request-parser.js';
import { bind, shutdown } from './listen.js';
import { withBodyChunkEncoding } from './body-wire.js';
import { addHealthService } from './health.js';
import type { ExtProcStreamMetrics } from './stream-metrics.js';
import { loadProtos } from './proto.js';
import { ExtProcStream, type ProcessCall } from './stream.js';

/** Default largest request body (as the built-in gateway's --body-limit). */
export const DEFAULT_EXTPROC_BODY_LIMIT = 32 * 1024 * 1024;

export interface ExtProcServerOptions {
  director: Director;
  /** All endpoints; body-less requests (GET /v1/models …) go to a random one. */
  endpoints: () => readonly Endpoint[];
  port: number;
  /** Bind address (default 0.0.0.0). */
  host?: string;
  /** TLS on the ext_proc port (upstream `--secure-serving`, default true). */
  secure: boolean;
  /** Certificate for `secure`; a self-signed one is made when absent. */
  tls?: TlsMaterial;
  /** Lowest TLS version accepted (`--tls-min-version`); Node's default (TLS 1.2) when absent. */
  tlsMinVersion?: SecureVersion;
  /** OpenSSL cipher string (`--tls-cipher-suites`, src/http/tls-versions.ts); grpc-js's default when absent. */
  tlsCiphers?: string;
  /** Reload the certificate when tls.crt / tls.key in this directory change (`--enable-cert-reload`). */
  certReloadDir?: string;
  logger: Logger;
  metrics?: EppMetrics;
  /** `requestHandler.parsers` (default: openai, anthropic, passthrough). */
  parsers?: readonly RequestParser[];
  /** Flow control, run by every request's lifecycle before scheduling (a rejection → ImmediateResponse 429/503). */
  admission?: FlowControlAdmission;
  /** Plugins whose values go back to Envoy as dynamic metadata on the last response message. */
  reporters?: readonly ResponseReporter[];
  /** Largest request body accepted (413 past it). */
  bodyLimit?: number;
  /** False ignores Envoy's endpoint subset hint (`--disable-endpoint-subset-filter`). */
  subsetFilter?: boolean;
  /** Keep a client's `kv_transfer_params` in the body (default false: removed). */
  trustClientKvTransferParams?: boolean;
  /** Send every scored endpoint's score to Envoy as dynamic metadata (`--emit-endpoint-scores`). */
  emitEndpointScores?: boolean;
  /** Also serve grpc.health.v1.Health on the ext_proc port (`--health-checking`), with this readiness. */
  health?: { isServing: () => boolean };
  /** Stream gauges and counters (`--enable-grpc-stream-metrics`). */
  streamMetrics?: ExtProcStreamMetrics;
  /** gRPC message limits (default 64 MiB each). */
  maxReceiveMessageBytes?: number;
  maxSendMessageBytes?: number;
  /** How long close() lets open streams finish before cutting them (default 5 s). */
  shutdownGraceMs?: number;
}

export interface ExtProcServer {
  readonly port: number;
  close(): Promise<void>;
}

/** gRPC message limits: Envoy's chunks are small, but a header map or a body chunk may exceed 4 MiB. */
const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
};

export async function startExtProcServer(options: ExtProcServerOptions): Promise<ExtProcServer> {
  const { extProc } = loadProtos();
  const server = new grpc.Server({
    ...SERVER_OPTIONS,
    ...(options.maxReceiveMessageBytes ? { 'grpc.max_receive_message_length': options.maxReceiveMessageBytes } : {}),
    ...(options.maxSendMessageBytes ? { 'grpc.max_send_message_length': options.maxSendMessageBytes } : {}),
  });
  const logger = options.logger.child({ listener: 'extproc' });
  const streamOptions = {
    director: options.director,
    endpoints: options.endpoints,
    parsers: options.parsers ?? defaultParsers(),
    bodyLimit: options.bodyLimit ?? DEFAULT_EXTPROC_BODY_LIMIT,
    subsetFilter: options.subsetFilter ?? true,
    trustClientKvTransferParams: options.trustClientKvTransferParams ?? false,
    emitEndpointScores: options.emitEndpointScores ?? false,
    logger,
    metrics: options.metrics,
    admission: options.admission,
    reporters: options.reporters ?? [],
  };
  // Body chunks skip proto-loader's encode-then-copy (body-wire.ts); grpc-js frames what it gets.
  const process = extProc.Process!;
  server.addService({ ...extProc, Process: { ...process, responseSerialize: withBodyChunkEncoding(process.responseSerialize) } }, {
    Process: (call: ProcessCall) => {
      options.streamMetrics?.track(call);
      new ExtProcStream(call, streamOptions).start();
    },
  });
  if (options.health) addHealthService(server, options.health.isServing);
  const credentials = options.secure ? await serverCredentials(options) : grpc.ServerCredentials.createInsecure();
  const host = options.host ?? '0.0.0.0';
  const port = await bind(server, host, options.port, credentials);
  logger.debug({ host, port, secure: options.secure }, 'ext_proc server bound');
  const watcher = options.certReloadDir && credentials instanceof TunedServerCredentials
    ? watchCertificateDir(options.certReloadDir, (material) => {
      credentials.update(material);
      logger.info({ certPath: options.certReloadDir }, 'TLS certificate reloaded');
    }, (err) => logger.error({ err, certPath: options.certReloadDir }, 'TLS certificate reload failed'))
    : undefined;
  return {
    port,
    close: () => {
      watcher?.close();
      return shutdown(server, options.shutdownGraceMs ?? 5000);
    },
  };
}

async function serverCredentials(options: ExtProcServerOptions): Promise<grpc.ServerCredentials> {
  const material = options.tls ?? await selfSignedCertificate('pd-router EPP');
  if (!options.tlsMinVersion && !options.tlsCiphers && !options.certReloadDir) {
    return grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(material.cert), private_key: Buffer.from(material.key) }], false);
  }
  return new TunedServerCredentials(material, { minVersion: options.tlsMinVersion, ciphers: options.tlsCiphers });
}

interface Tuning {
  minVersion?: SecureVersion;
  ciphers?: string;
}

function contextOptions(material: TlsMaterial, tuning: Tuning): SecureContextOptions {
  return { cert: material.cert, key: material.key, ...(tuning.minVersion ? { minVersion: tuning.minVersion } : {}), ...(tuning.ciphers ? { ciphers: tuning.ciphers } : {}) };
}

/**
 * TLS credentials with a minimum version, a cipher list and certificate replacement, which
 * grpc-js's createSsl cannot do: the options go to the HTTP/2 server grpc-js creates (a bad
 * cipher list fails the bind), and `update` swaps the secure context for new connections.
 */
class TunedServerCredentials extends grpc.ServerCredentials {
  private readonly tuning: Tuning;

  constructor(material: TlsMaterial, tuning: Tuning) {
    super({ requestCert: false }, contextOptions(material, tuning));
    this.tuning = tuning;
  }

  update(material: TlsMaterial): void {
    this.updateSecureContextOptions(contextOptions(material, this.tuning));
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}
