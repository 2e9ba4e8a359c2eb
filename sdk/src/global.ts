/**
 * Entry of the minified script-tag build, core only: dist/clickstream.min.js. Consent, identify
 * and reset are in the full build (global-full.ts); called here, they warn (see loader.ts).
 */
import { install } from './loader.js';
import { scriptApi } from './script-api.js';

install(scriptApi());
