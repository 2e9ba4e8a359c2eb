/**
 * A TCP proxy between the browser and the gateway, for the SDK's requests only (the demo-shop
 * tests, test/e2e/sdk-shop*.e2e.test.ts): it can cut the network (every open socket reset, new ones
 * refused) or lose the gateway's answers (the request got through, the browser never hears back).
 */
import net from 'node:net';

// A TCP proxy between the browser and the gateway, for the SDK's requests only.

export interface Proxy {
  port: number;
  /** Resets every open connection and every new one until restore(). */
  cut(): void;
  restore(): void;
  /** Requests go through to the gateway, its answers are thrown away (the connection is reset). */
  loseAnswers(on: boolean): void;
  stats: { passed: number; refused: number; answersLost: number };
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  let mode: 'pass' | 'cut' | 'lose' = 'pass';
  const open = new Set<net.Socket>();
  const stats = { passed: 0, refused: 0, answersLost: 0 };
  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'cut') {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    stats.passed++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.on('error', () => {});
    const pair = [client, upstream];
    for (const s of pair) open.add(s);
    const drop = () => {
      for (const s of pair) {
        open.delete(s);
        if (!s.destroyed) s.resetAndDestroy();
      }
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.on('data', (chunk) => {
      if (mode === 'lose') {
        stats.answersLost++;
        drop();
      } else client.write(chunk);
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const resetAll = () => {
    for (const s of open) if (!s.destroyed) s.resetAndDestroy();
    open.clear();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      mode = 'cut';
      resetAll();
    },
    restore() {
      mode = 'pass';
    },
    loseAnswers(on) {
      mode = on ? 'lose' : 'pass';
    },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        resetAll();
        server.close(() => resolve());
      }),
  };
}
