import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { brokerProduceWindows, brokerWindowLine, logTime } from './broker-request-log.js';

const line = (time: string, api: string, t: { total: number; queue: number; local: number; resp: number; send: number }) =>
  `[2026-12-04 ${time}] DEBUG Completed request:{"requestHeader":{"requestApiKeyName":"${api}"},"response":{},"connection":"x","totalTimeMs":${t.total},"requestQueueTimeMs":${t.queue},"localTimeMs":${t.local},"remoteTimeMs":0.0,"throttleTimeMs":0,"responseQueueTimeMs":${t.resp},"sendTimeMs":${t.send},"securityProtocol":"PLAINTEXT"} (kafka.request.logger)`;

test('logTime reads log4j\'s local date with its milliseconds', () => {
  expect(logTime('[2026-12-04 13:04:09,705] DEBUG x')).toBe(new Date(2026, 11, 4, 13, 4, 9, 705).getTime());
  expect(logTime('no date')).toBeNaN();
});

test('produce requests are summed into the window their completion falls in; other requests and other times are left out', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'broker-log-'));
  const file = path.join(dir, 'kafka.log');
  writeFileSync(
    file,
    [
      line('13:00:00,500', 'PRODUCE', { total: 2, queue: 0.5, local: 1, resp: 0.1, send: 0.2 }),
      line('13:00:01,000', 'PRODUCE', { total: 40, queue: 30, local: 8, resp: 0.5, send: 1.5 }),
      line('13:00:01,200', 'FETCH', { total: 500, queue: 0, local: 0, resp: 0, send: 0 }),
      line('13:00:02,100', 'PRODUCE', { total: 3, queue: 0.2, local: 2.5, resp: 0.1, send: 0.1 }),
      line('13:00:09,000', 'PRODUCE', { total: 99, queue: 99, local: 0, resp: 0, send: 0 }),
      'a line without a date',
    ].join('\n'),
  );
  const at = (s: number) => new Date(2026, 11, 4, 13, 0, s).getTime();
  const [w1, w2] = await brokerProduceWindows(file, [{ from: at(0), to: at(2) }, { from: at(2), to: at(3) }]);
  expect(w1).toMatchObject({ requests: 2, slow: 1, totalMax: 40, max: { requestQueueTimeMs: 30, localTimeMs: 8, responseQueueTimeMs: 0.5, sendTimeMs: 1.5 } });
  expect(w2).toMatchObject({ requests: 1, slow: 0, totalMax: 3, max: { localTimeMs: 2.5 } });
  expect(brokerWindowLine(w1)).toContain('2 produce requests, 1 over 25 ms');
});
