/**
 * Node flags every processor process runs with (`npm run processor`, the demo, the benches; the
 * image's deployments set the same in NODE_OPTIONS: infra/docker-compose.yml, deploy/k8s).
 *
 * Why: a role allocates fast (parsed events, documents, bulk bodies), and on a machine with
 * gigabytes of memory Node 24 lets V8's young generation grow to 2 x 64 MB semi-spaces, which
 * stay resident: about 100 MB of every role's RSS that holds only garbage between scavenges.
 * 16 MB semi-spaces took each role's RSS down by 70-100 MB at the same CPU per event
 * (`npm run bench:processor-memory`, bench/README.md).
 */
export const PROCESSOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
