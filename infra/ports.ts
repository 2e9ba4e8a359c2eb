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

/** A loopback port free right now (closed again at once), for services a test starts on its own. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
