/** `--name value` / `--name=value` / `--flag` command-line options with numeric defaults. */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), 'true');
  }
  return {
    num(name: string, def: number): number {
      const v = out.get(name);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${v}"`);
      return n;
    },
    flag(name: string): boolean {
      const v = out.get(name);
      return v !== undefined && v !== 'false' && v !== '0';
    },
    str(name: string, def: string): string {
      return out.get(name) ?? def;
    },
  };
}
