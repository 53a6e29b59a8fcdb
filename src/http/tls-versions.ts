/**
 * Go's crypto/tls names for TLS versions and cipher suites, as llm-d's EPP takes them on its
 * command line (`--tls-min-version=VersionTLS13`, `--tls-cipher-suites=TLS_ECDHE_RSA_WITH_…`),
 * turned into Node's (OpenSSL's) names. An unknown name is an InvalidArgumentError, so the
 * command line is refused at start-up with the flag named.
 *
 * As in Go, the cipher list only governs TLS 1.2 and below: the TLS 1.3 suites are not
 * configurable and stay all enabled (a TLS 1.3 name is accepted and changes nothing).
 */
import type { SecureVersion } from 'node:tls';
import { InvalidArgumentError } from 'commander';

const VERSIONS: Readonly<Record<string, SecureVersion>> = {
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/** The TLS 1.3 suites (always enabled, as Go does). */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** Go name → OpenSSL name, for every suite Go knows (its secure and insecure lists). */
const TLS12_SUITES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

/** `--tls-min-version` value → Node's minVersion. */
export function tlsMinVersionArg(value: string): SecureVersion {
  const version = VERSIONS[value.trim()];
  if (!version) throw new InvalidArgumentError(`unknown TLS version "${value}"; supported values: ${Object.keys(VERSIONS).join(', ')}`);
  return version;
}

/** `--tls-cipher-suites` (comma-separated, repeatable): Go names, checked one by one, kept as given. */
export function tlsCipherSuitesArg(value: string, previous: unknown): string[] {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!(name in TLS12_SUITES) && !TLS13_SUITES.includes(name)) throw new InvalidArgumentError(`unknown cipher suite "${name}"`);
  }
  return [...((previous as string[] | undefined) ?? []), ...names];
}

/**
 * Node's `ciphers` string for Go suite names: the TLS 1.3 suites, then the given TLS ≤ 1.2
 * suites in their OpenSSL spelling. Undefined when no names are given (the server's default).
 */
export function opensslCiphers(goNames: readonly string[] | undefined): string | undefined {
  if (!goNames || goNames.length === 0) return undefined;
  const legacy = goNames.flatMap((name) => (TLS12_SUITES[name] ? [TLS12_SUITES[name]] : []));
  return [...TLS13_SUITES, ...legacy].join(':');
}
