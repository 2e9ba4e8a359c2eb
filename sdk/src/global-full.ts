/**
 * Entry of the script-tag build with every plugin: dist/clickstream.full.min.js.
 * `clickstream('consent', true)`, `clickstream('identify', id)`, `clickstream('reset')`,
 * `clickstream('autoPageviews')`, `clickstream('autoClicks')`, `clickstream('engagement')`.
 */
import { install } from './loader.js';
import { scriptApi } from './script-api.js';
import { consent } from './plugins/consent.js';
import { identify, reset } from './plugins/identify.js';
import { autoPageviews } from './plugins/auto-pageviews.js';
import { autoClicks } from './plugins/auto-clicks.js';
import { engagement } from './plugins/engagement.js';

install({ ...scriptApi(), identify, reset, consent, autoPageviews, autoClicks, engagement });
