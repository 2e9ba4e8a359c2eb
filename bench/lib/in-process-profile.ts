/**
 * A CPU profile of this process over a stretch of a benchmark (node:inspector, one sample every
 * 200 µs), written to a file and summed up by area and function (cpuprofile.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { summarise } from './cpuprofile.js';
import { int, table } from './stats.js';

export async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return session;
}

/** Stops the profile, writes it to `file` and prints its self time by area and function, and the inclusive time of `inclusive`. */
export async function stopProfile(session: Session, file: string, inclusive: string[], title: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  const sum = summarise(file, inclusive);
  const busy = sum.totalMs - sum.idleMs;
  const share = (x: number) => `${((x / busy) * 100).toFixed(1)}%`;
  console.log(`\nCPU profile of ${title} (${file}), ${(busy / 1000).toFixed(2)} s busy; self time:`);
  console.log(table(['area', 'ms', 'share'], sum.byArea.filter((x) => x.area !== 'idle').slice(0, 12).map((x) => [x.area, int(x.ms), share(x.ms)])));
  console.log('');
  console.log(table(['function', 'where', 'ms', 'share'], sum.byFunction.filter((x) => x.area !== 'idle').slice(0, 30).map((x) => [x.fn, x.where, int(x.ms), share(x.ms)])));
  console.log('');
  console.log(table(['function (inclusive)', 'ms', 'share'], sum.inclusive.map((x) => [x.fn, int(x.ms), share(x.ms)])));
}
