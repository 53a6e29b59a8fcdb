/**
 * The EPP's Prometheus listener: `GET /metrics` (404 otherwise), plain HTTP by default, HTTPS with
 * `--metrics-cert-dir` (tls.crt / tls.key, TLS ≥ 1.2) and mutual TLS with
 * `--metrics-client-ca-file` (a client without a certificate signed by that CA is refused).
 */
import { readFile } from 'node:fs/promises';
import { listen, type ListeningServer } from '../src/http/server.js';
import { loadCertificateDir } from '../src/http/tls.js';
import type { EppMetrics } from './metrics.js';

export interface MetricsServerOptions {
  port: number;
  host: string;
  certDir?: string;
  clientCaFile?: string;
}

export async function startMetricsServer(metrics: EppMetrics, options: MetricsServerOptions): Promise<ListeningServer> {
  const tls = options.certDir ? await loadCertificateDir(options.certDir) : undefined;
  const clientCa = options.clientCaFile ? await readFile(options.clientCaFile, 'utf8') : undefined;
  if (clientCa !== undefined && !clientCa.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`no valid CA certs in metrics client CA file: ${options.clientCaFile}`);
  }
  return listen((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    }, (err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  }, { port: options.port, host: options.host, tls, clientCa });
}
