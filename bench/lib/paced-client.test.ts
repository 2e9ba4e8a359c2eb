import { expect, test } from 'vitest';
import { pacedClient } from './measure.js';

test.each([
  ['', false, 'raw'],
  ['', true, 'http'],
  ['http', false, 'http'],
  ['raw', false, 'raw'],
  ['http', true, 'http'],
])('--paced-client %j with --trace %s: %s', (given, trace, client) => {
  expect(pacedClient(given, trace)).toBe(client);
});

test('the raw client with --trace, or an unknown client, is refused by name', () => {
  expect(() => pacedClient('raw', true)).toThrow(/--trace needs --paced-client http/);
  expect(() => pacedClient('autocannon')).toThrow(/takes http or raw, got autocannon/);
});
