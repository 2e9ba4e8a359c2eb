/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function
 * and per area (a package of node_modules, a file of the project, or V8's own buckets: garbage
 * collector, idle, program = native code not attributed to a JS function).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../infra/paths.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  byArea: { area: string; ms: number }[];
  byFunction: { fn: string; where: string; area: string; ms: number }[];
  /** Inclusive time of the frames whose function name matches, by name. */
  inclusive: { fn: string; ms: number }[];
}

function areaOf(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return 'V8: garbage collector';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return 'V8/native: (program)';
    return `native: ${fn || '(anonymous)'}`;
  }
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return `npm: ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (u.startsWith('node:')) return `node: ${u.slice(5).split('/')[0]}`;
  if (u.startsWith(PROJECT_ROOT)) return path.relative(PROJECT_ROOT, u);
  return u;
}

/**
 * `lastMs`: only the samples of the profile's last `lastMs` milliseconds (the measured run, not
 * the process's start-up, module loading and warm-up).
 */
export function summarise(file: string, inclusiveNames: string[] = [], lastMs = Infinity): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // Sample i happens at startTime + sum(timeDeltas[0..i]) (microseconds); its weight is the gap to the next one.
  const mean = (p.endTime - p.startTime) / Math.max(1, p.samples.length);
  const from = p.endTime - lastMs * 1000;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < from) continue;
    const dt = (i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : mean) / 1000;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  let totalMs = 0;
  let idleMs = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; area: string; ms: number }>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const area = areaOf(url, functionName);
    totalMs += t;
    if (area === 'idle') idleMs += t;
    areas.set(area, (areas.get(area) ?? 0) + t);
    const where = url ? `${areaOf(url, '')}:${lineNumber + 1}` : '';
    const k = `${functionName}@${where}`;
    const cur = fns.get(k) ?? { fn: functionName || '(anonymous)', where, area, ms: 0 };
    cur.ms += t;
    fns.set(k, cur);
  }
  // Inclusive time of named functions: each sample counted once per name, however deep the recursion.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = inclusiveNames.map((name) => {
    let ms = 0;
    for (const [id, t] of self) {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        if (byId.get(cur)!.callFrame.functionName === name) {
          ms += t;
          break;
        }
      }
    }
    return { fn: name, ms };
  });
  return {
    totalMs,
    idleMs,
    byArea: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
    byFunction: [...fns.values()].sort((a, b) => b.ms - a.ms),
    inclusive,
  };
}
