/**
 * Alerts: runs the stream detectors (click bursts per visitor and per site + network prefix, the
 * bot-session model) over the events this instance consumes, writes each alert to the alerts
 * index under its deterministic id (`create`: a replay that raises it again finds it there and
 * changes nothing) and delivers it to the webhook. `flush` resolves once the alerts raised so far
 * are indexed and delivered (or their delivery gave up), so offsets are committed after that.
 */
import type { Client } from '@elastic/elasticsearch';
import type { AlertDoc } from '../../contracts/documents.js';
import { indexNames } from '../../contracts/indices.js';
import type { Sink } from '../sink.js';
import { ClickBurstDetectors } from '../anomaly/burst.js';
import { BotSessionModel } from '../anomaly/bot-sessions.js';
import type { AnomalyOptions } from '../anomaly/options.js';
import { botAlert, burstAlert } from '../alerts/alert-docs.js';
import { deliver, type WebhookOptions } from '../alerts/webhook.js';

export interface AlertsSinkOptions {
  client: Client;
  indexPrefix: string;
  detectors: Pick<AnomalyOptions, 'visitorBursts' | 'networkBursts' | 'bots'>;
  /** Null: alerts are only indexed. */
  webhook: WebhookOptions | null;
  /** Called once per alert indexed for the first time, and per delivery outcome. */
  onAlert?: (alert: AlertDoc, created: boolean) => void;
  onDelivery?: (alert: AlertDoc, ok: boolean) => void;
}

export function alertsSink(o: AlertsSinkOptions): Sink & { pending(): number } {
  const index = indexNames(o.indexPrefix).alerts;
  const bursts = new ClickBurstDetectors(o.detectors.visitorBursts, o.detectors.networkBursts);
  const bots = new BotSessionModel(o.detectors.bots);
  let buffer: AlertDoc[] = [];
  return {
    name: 'alerts',
    pending: () => buffer.length,
    add(e) {
      const t = Date.parse(e.timestamp);
      if (!Number.isFinite(t)) return;
      if (e.event_type === 'click') {
        for (const b of bursts.add({ visitor: e.visitor_id, network: e.ip, site: e.site_id, t })) buffer.push(burstAlert(b));
      }
      for (const f of bots.add({ session_id: e.session_id, visitor_id: e.visitor_id, site_id: e.site_id, event_type: e.event_type, t, url: e.url, browser: e.browser, is_bot: e.is_bot })) {
        buffer.push(botAlert(f, o.detectors.bots.threshold));
      }
    },
    async flush() {
      const batch = buffer;
      buffer = [];
      if (batch.length === 0) return;
      try {
        const res = await o.client.bulk({ operations: batch.flatMap((a) => [{ create: { _index: index, _id: a.alert_id } }, a]) });
        const failed: string[] = [];
        res.items.forEach((item, i) => {
          const r = item.create;
          if (!r) return;
          // 409: written before (a replay raised it again): the same document, nothing to do.
          if (r.status === 409 || (r.status >= 200 && r.status < 300)) o.onAlert?.(batch[i], r.status !== 409);
          else failed.push(`${batch[i].alert_id}: ${r.status} ${r.error?.reason ?? ''}`);
        });
        if (failed.length) throw new Error(`alerts not indexed: ${failed.slice(0, 3).join('; ')}`);
      } catch (err) {
        buffer = [...batch, ...buffer];
        throw err;
      }
      // Delivered whether just created or found there: at least once, receivers deduplicate on the id.
      const hook = o.webhook;
      // Not `onDelivery?.(a, await deliver(...))`: without a listener that skips the delivery itself.
      if (hook)
        await Promise.all(
          batch.map(async (a) => {
            const ok = await deliver(a, hook);
            o.onDelivery?.(a, ok);
          }),
        );
    },
  };
}
