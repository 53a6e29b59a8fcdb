/** What `pd-router demo` runs (set by its flags in demo-options.ts). */
export interface DemoConfig {
  model: string;
  gatewayPort: number;
  grpcPort: number;
  metricsPort: number;
  decodePods: number;
  /** Send one short and one long request, print what happened, and exit. */
  smoke: boolean;
}
