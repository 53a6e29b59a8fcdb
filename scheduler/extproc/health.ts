/**
 * Plaintext gRPC health (`grpc.health.v1.Health/Check`) for Kubernetes probes and Envoy, on its own
 * port (upstream 9003). The EPP's services answer SERVING once the EPP is ready
 * (`isServing`); `liveness` only needs the process to be alive (`isLive`, default always). Any
 * other service name is SERVICE_UNKNOWN, as upstream. Watch is not implemented. With
 * `--health-checking` the ext_proc server answers the same service on its own port too.
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtos, EXT_PROC_SERVICE } from './proto.js';
import { bind, shutdown } from './listen.js';

export const SERVING = 1;
export const NOT_SERVING = 2;
export const SERVICE_UNKNOWN = 3;

const READINESS_SERVICES = new Set(['', EXT_PROC_SERVICE, 'readiness']);

export interface HealthServerOptions {
  port: number;
  host?: string;
  /** Ready to route: endpoints synced (and, with leader election, leading). */
  isServing: () => boolean;
  /** Alive; defaults to always. */
  isLive?: () => boolean;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

interface HealthCheckRequest {
  service?: string;
}

interface HealthCheckResponse {
  status: number;
}

/** The status reported for one service name. */
export function healthStatus(service: string, isServing: () => boolean, isLive: () => boolean = () => true): number {
  if (service === 'liveness') return isLive() ? SERVING : NOT_SERVING;
  if (READINESS_SERVICES.has(service)) return isServing() ? SERVING : NOT_SERVING;
  return SERVICE_UNKNOWN;
}

/** Adds the Health service to a gRPC server (its own port, or ext_proc's with `--health-checking`). */
export function addHealthService(server: grpc.Server, isServing: () => boolean, isLive?: () => boolean): void {
  server.addService(loadProtos().health, {
    Check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) => {
      callback(null, { status: healthStatus(call.request.service ?? '', isServing, isLive) });
    },
    Watch: (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'Watch is not implemented' });
    },
  });
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = new grpc.Server();
  addHealthService(server, options.isServing, options.isLive);
  const host = options.host ?? '0.0.0.0';
  const port = await bind(server, host, options.port, grpc.ServerCredentials.createInsecure());
  return { port, close: () => shutdown(server, 1000) };
}
