import type { ReferrerType } from '../contracts/event-schema.js';

/**
 * Classifies how a visit arrived, in this order:
 * 1. internal: the referrer is the page's own host (ignoring a leading "www."), or one of
 *    the hosts the site lists as its origins; first, because the SDK keeps a campaign's UTM
 *    fields on every later event of the visit, and a click from one of the site's pages is not
 *    a source (the campaign stays in the utm_* fields);
 * 2. campaign: the page URL carries UTM parameters (or the event did) or an ad click id;
 * 3. direct: no referrer (or one that is not a URL);
 * 4. search / social: the referrer's host is a known search engine or social network;
 * 5. other: any other site.
 * Pure function of its inputs, so a replay classifies the same way.
 */

/** Search engines by registrable name; any country TLD matches (google.co.uk, yandex.ru ...). */
const SEARCH_BRANDS = new Set(['google', 'bing', 'yandex', 'baidu', 'duckduckgo', 'ecosia', 'qwant', 'naver', 'seznam', 'yahoo', 'startpage', 'sogou', 'daum', 'aol', 'dogpile', 'petalsearch', 'mojeek', 'kagi', 'yep', 'perplexity', 'lilo', 'swisscows', 'metager', 'presearch']);
/** Subdomains of a search brand that are not its search engine. */
const NOT_SEARCH_SUBDOMAINS = new Set(['mail', 'docs', 'drive', 'sites', 'maps', 'play', 'groups', 'calendar', 'accounts', 'photos', 'translate', 'outlook', 'login', 'answers', 'finance', 'sports']);
/** Hosts (and their subdomains) of search engines whose brand label alone is too ambiguous. */
const SEARCH_HOSTS = new Set(['search.brave.com', 'search.yahoo.com', 'search.aol.com', 'search.naver.com', 'go.mail.ru', 'search.seznam.cz', 'search.lilo.org', 'so.com', 'you.com', 'ask.com', 'chat.openai.com', 'chatgpt.com']);
/** Brands whose bare domain is a portal, not a search engine: only their search subdomains count. */
const PORTAL_BRANDS = new Set(['yahoo', 'aol', 'naver', 'daum']);

/** Social networks, matched on the host and every parent domain. */
const SOCIAL_HOSTS = new Set([
  'facebook.com', 'fb.com', 'fb.me', 'messenger.com', 'instagram.com', 'threads.net', 'whatsapp.com', 'wa.me',
  'twitter.com', 't.co', 'x.com', 'linkedin.com', 'lnkd.in', 'pinterest.com', 'pin.it', 'reddit.com', 'redd.it',
  'tiktok.com', 'youtube.com', 'youtu.be', 'snapchat.com', 'tumblr.com', 'vk.com', 'ok.ru', 'weibo.com', 't.cn',
  'telegram.org', 't.me', 'discord.com', 'discord.gg', 'quora.com', 'mastodon.social', 'bsky.app', 'news.ycombinator.com',
  'medium.com', 'twitch.tv', 'line.me', 'xing.com', 'flickr.com', 'vimeo.com', 'slack.com', 'meetup.com',
]);
/** Country variants of social networks (pinterest.de, facebook.co.uk ...). */
const SOCIAL_BRANDS = new Set(['facebook', 'pinterest', 'linkedin', 'reddit', 'tiktok', 'youtube', 'instagram', 'twitter']);

/** Ad click ids that mark paid traffic even without UTM parameters. */
export const CLICK_ID_PARAMS = ['gclid', 'gbraid', 'wbraid', 'dclid', 'fbclid', 'msclkid', 'ttclid', 'twclid', 'li_fat_id', 'yclid'] as const;

/** Second-level labels under which a country TLD puts registrable names (google.co.uk, google.com.au). */
const SLD = new Set(['co', 'com', 'org', 'net', 'ac', 'gov', 'edu', 'ne', 'or', 'gob']);

/** The registrable label and what sits in front of it: "news.google.co.uk" -> ["google", ["news"]]. */
function brandOf(labels: string[]): [string, string[]] | null {
  const n = labels.length;
  if (n < 2) return null;
  // A two-letter country TLD with a generic second level (co.uk, com.au): the brand is one further in.
  if (n >= 3 && labels[n - 1].length === 2 && SLD.has(labels[n - 2])) return [labels[n - 3], labels.slice(0, n - 3)];
  return [labels[n - 2], labels.slice(0, n - 2)];
}

function matchesSuffix(host: string, set: Set<string>): boolean {
  let h = host;
  for (;;) {
    if (set.has(h)) return true;
    const dot = h.indexOf('.');
    if (dot < 0) return false;
    h = h.slice(dot + 1);
  }
}

export function isSearchHost(host: string): boolean {
  if (matchesSuffix(host, SEARCH_HOSTS)) return true;
  const b = brandOf(host.split('.'));
  if (!b || !SEARCH_BRANDS.has(b[0])) return false;
  const sub = b[1];
  if (sub.length === 0) return !PORTAL_BRANDS.has(b[0]);
  if (PORTAL_BRANDS.has(b[0])) return sub[sub.length - 1] === 'search';
  return !NOT_SEARCH_SUBDOMAINS.has(sub[sub.length - 1]) && !NOT_SEARCH_SUBDOMAINS.has(sub[0]);
}

export function isSocialHost(host: string): boolean {
  if (matchesSuffix(host, SOCIAL_HOSTS)) return true;
  const b = brandOf(host.split('.'));
  return !!b && SOCIAL_BRANDS.has(b[0]);
}

const stripWww = (h: string) => (h.startsWith('www.') ? h.slice(4) : h);

export interface ReferrerInput {
  /** Host of the page the event happened on (lower case, as URL parses it). */
  pageHost: string | null;
  /** Host of the referrer, or null when there is none or it is not a URL. */
  referrerHost: string | null;
  /** True when the event or its page URL carries UTM fields or an ad click id. */
  campaign: boolean;
  /** Hosts of the site's own origins (from SITES), which count as internal too. */
  siteHosts?: ReadonlySet<string>;
}

/** Search / social / other by referrer host: a site sees few distinct ones, so they are cached. */
const hostClass = new Map<string, ReferrerType>();
function classifyHost(host: string): ReferrerType {
  let c = hostClass.get(host);
  if (c === undefined) {
    c = isSearchHost(host) ? 'search' : isSocialHost(host) ? 'social' : 'other';
    if (hostClass.size >= 10_000) hostClass.clear();
    hostClass.set(host, c);
  }
  return c;
}

export function classifyReferrer({ pageHost, referrerHost, campaign, siteHosts }: ReferrerInput): ReferrerType {
  const ref = referrerHost ? stripWww(referrerHost) : null;
  if (ref !== null && ((pageHost && ref === stripWww(pageHost)) || siteHosts?.has(ref))) return 'internal';
  if (campaign) return 'campaign';
  if (!referrerHost) return 'direct';
  return classifyHost(referrerHost);
}
