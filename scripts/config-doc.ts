/**
 * Prints the README's configuration table from contracts/config.ts (the one definition);
 * `--write` puts it into README.md between the config markers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable } from '../contracts/config.js';

export const README = new URL('../README.md', import.meta.url);
export const START = '<!-- config:start -->';
export const END = '<!-- config:end -->';

export function readmeTable(text: string): string {
  return text.slice(text.indexOf(START) + START.length, text.indexOf(END)).trim();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const text = readFileSync(README, 'utf8');
    writeFileSync(README, `${text.slice(0, text.indexOf(START) + START.length)}\n${configTable()}\n${text.slice(text.indexOf(END))}`);
  } else console.log(configTable());
}
