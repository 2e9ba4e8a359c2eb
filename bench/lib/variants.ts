import { parseConfig, SETTINGS, type Config } from '../../contracts/config.js';

/**
 * bench:gateway's --variants: settings (ENV=value, comma-separated) of each extra real gateway,
 * ';' between gateways; each parsed by the project's own config definition.
 */
export function parseVariants(arg: string): { spec: string; settings: Partial<Config> }[] {
  return arg
    .split(';')
    .filter(Boolean)
    .map((spec) => {
      const env = Object.fromEntries(spec.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1).trim()]));
      const keys = Object.entries(SETTINGS).filter(([, st]) => st.env in env).map(([k]) => k as keyof Config);
      const unknown = Object.keys(env).filter((name) => !Object.values(SETTINGS).some((st) => st.env === name));
      if (unknown.length) throw new Error(`--variants: no setting named ${unknown.join(', ')}`);
      const parsed = parseConfig(env);
      return { spec, settings: Object.fromEntries(keys.map((k) => [k, parsed[k]])) as Partial<Config> };
    });
}
