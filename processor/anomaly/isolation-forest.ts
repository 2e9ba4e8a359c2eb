/**
 * A small isolation forest (Liu, Ting and Zhou, 2008): random axis-parallel splits isolate rare
 * points in fewer steps than common ones; the anomaly score 2^(-E[h(x)] / c(psi)) is near 1 for
 * points isolated at once and about 0.5 or less for ordinary ones. Seeded, so the same training
 * rows give the same forest. Pure.
 */
import { seededRandom } from './stats.js';

export interface ForestOptions {
  trees: number;
  /** Rows drawn (without replacement) to grow each tree: psi. */
  sampleSize: number;
  seed: number;
}

export const DEFAULT_FOREST: ForestOptions = { trees: 100, sampleSize: 256, seed: 1 };

type Node = { leaf: true; size: number } | { leaf: false; feature: number; split: number; left: Node; right: Node };

/** Average path length of an unsuccessful search in a binary search tree of n points. */
export function averagePath(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + 0.5772156649) - (2 * (n - 1)) / n;
}

export class IsolationForest {
  private readonly trees: Node[];
  private readonly norm: number;

  /** Grows the forest on `rows` (each the same number of features). */
  constructor(rows: readonly number[][], options: Partial<ForestOptions> = {}) {
    const o = { ...DEFAULT_FOREST, ...options };
    if (rows.length < 2) throw new Error('IsolationForest needs at least 2 rows');
    const rand = seededRandom(o.seed);
    const psi = Math.min(o.sampleSize, rows.length);
    const maxDepth = Math.ceil(Math.log2(psi));
    this.norm = averagePath(psi);
    this.trees = [];
    for (let i = 0; i < o.trees; i++) {
      // Partial Fisher-Yates: the first psi indices are a uniform sample.
      const idx = rows.map((_, j) => j);
      for (let j = 0; j < psi; j++) {
        const k = j + Math.floor(rand() * (idx.length - j));
        [idx[j], idx[k]] = [idx[k], idx[j]];
      }
      this.trees.push(grow(idx.slice(0, psi).map((j) => rows[j]), 0, maxDepth, rand));
    }
  }

  /** Anomaly score in (0, 1]: above ~0.6 is rare for the training data. */
  score(row: readonly number[]): number {
    let total = 0;
    for (const t of this.trees) total += pathLength(t, row, 0);
    return 2 ** (-(total / this.trees.length) / this.norm);
  }
}

function grow(rows: number[][], depth: number, maxDepth: number, rand: () => number): Node {
  if (depth >= maxDepth || rows.length <= 1) return { leaf: true, size: rows.length };
  const width = rows[0].length;
  // Only features that still vary can split; try them in a random order.
  const candidates: number[] = [];
  for (let f = 0; f < width; f++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows) {
      lo = Math.min(lo, r[f]);
      hi = Math.max(hi, r[f]);
    }
    if (hi > lo) candidates.push(f);
  }
  if (candidates.length === 0) return { leaf: true, size: rows.length };
  const feature = candidates[Math.floor(rand() * candidates.length)];
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    lo = Math.min(lo, r[feature]);
    hi = Math.max(hi, r[feature]);
  }
  const split = lo + rand() * (hi - lo);
  const left = rows.filter((r) => r[feature] < split);
  const right = rows.filter((r) => r[feature] >= split);
  return { leaf: false, feature, split, left: grow(left, depth + 1, maxDepth, rand), right: grow(right, depth + 1, maxDepth, rand) };
}

function pathLength(node: Node, row: readonly number[], depth: number): number {
  if (node.leaf) return depth + averagePath(node.size);
  return pathLength(row[node.feature] < node.split ? node.left : node.right, row, depth + 1);
}
