import { parseConfig, type Config } from '../contracts/config.js';

/** Every setting from this process's environment, with `overrides` winning (contracts/config.ts SETTINGS). */
export const loadConfig = (overrides: Partial<Config> = {}): Config => parseConfig(process.env, overrides);
