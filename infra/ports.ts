import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Throws a clear error when one of the ports is already taken on 127.0.0.1. */
export async function assertPortsFree(ports: { port: number; what: string; setting: string }[]): Promise<void> {
  const taken: string[] = [];
  await Promise.all(
    ports.map(
      ({ port, what, setting }) =>
        new Promise<void>((resolve) => {
          const server = net.createServer();
          server.once('error', () => {
            taken.push(`${what} port ${port} is already in use (another instance running? choose another with ${setting})`);
            resolve();
          });
          server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve()));
        }),
    ),
  );
  if (taken.length) throw new Error(taken.join('; '));
}

/** True when `port` can be listened on at 127.0.0.1 right now (closed again at once). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Where the kernel picks the local ports of outgoing connections (Linux; elsewhere a common default). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/** Ports this process has handed out, so two calls never give the same one. */
const handedOut = new Set<number>();
const LOWEST = 10_000;

/**
 * A loopback port free right now, for services a test starts on its own. Chosen below the
 * kernel's ephemeral range: a port from there (listen on 0) can be given to some outgoing
 * connection's local end between this call and the service's bind ("already in use" at start-up,
 * seen once in CI). Falls back to the kernel's choice when there is no room below that range.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  if (low - LOWEST >= 1000) {
    for (let i = 0; i < 100; i++) {
      const port = LOWEST + Math.floor(Math.random() * (low - LOWEST));
      if (handedOut.has(port) || !(await canListen(port))) continue;
      handedOut.add(port);
      return port;
    }
  }
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
