/** Server TLS material: a certificate directory (tls.crt + tls.key, hot-reloaded) or a self-signed one. */
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';

export interface TlsMaterial {
  cert: string;
  key: string;
}

/**
 * A self-signed certificate valid 10 years, as upstream's sidecar and EPP create when no cert-path
 * is given. ECDSA P-256 instead of upstream's RSA-4096: same trust story (none — clients skip
 * verification), generated in milliseconds instead of seconds.
 */
export async function selfSignedCertificate(organization: string): Promise<TlsMaterial> {
  const now = new Date();
  const notAfter = new Date(now);
  notAfter.setFullYear(now.getFullYear() + 10);
  // Loaded on first use (~20 MB RSS with its X.509 stack): most processes never self-sign.
  const { default: selfsigned } = await import('selfsigned');
  const generated = await selfsigned.generate([{ name: 'organizationName', value: organization }], {
    keyType: 'ec',
    curve: 'P-256',
    notBeforeDate: now,
    notAfterDate: notAfter,
  });
  return { cert: generated.cert, key: generated.private };
}

export async function loadCertificateDir(dir: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(join(dir, 'tls.crt'), 'utf8'), readFile(join(dir, 'tls.key'), 'utf8')]);
  return { cert, key };
}

/**
 * Watches a certificate directory and calls `apply` with fresh material after changes settle
 * (250 ms debounce, as upstream). Returns the watcher's owner; close it on shutdown.
 */
export function watchCertificateDir(dir: string, apply: (material: TlsMaterial) => void, onError: (err: unknown) => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      loadCertificateDir(dir).then(apply, onError);
    }, 250);
  });
  watcher.on('error', onError);
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

/** TLS ≥ 1.2 with ECDHE AES-GCM / CHACHA20 suites, as upstream. */
export const SERVER_TLS_OPTIONS: SecureContextOptions = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
};
