import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EVENT_TYPES, clientEventSchemas, type ClientEvent, type EventType } from '../contracts/event-schema.js';
import type { EventErrorCode } from './errors.js';

export type Validation =
  | { ok: true; event: ClientEvent }
  | { ok: false; code: EventErrorCode; reason: string };

function describe(errors: ErrorObject[] | null | undefined): string {
  if (!errors?.length) return 'invalid';
  return errors
    .slice(0, 5)
    .map((e) => {
      const where = e.instancePath || '(event)';
      if (e.keyword === 'additionalProperties') return `${where} has unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
      if (e.keyword === 'required') return `${where} is missing "${(e.params as { missingProperty: string }).missingProperty}"`;
      return `${where} ${e.message}`;
    })
    .join('; ');
}

/** Compiles the per-type schemas once; `validateEvent` is then a map lookup and one compiled check. */
export function createValidator(): (input: unknown) => Validation {
  const ajv = new Ajv({ allErrors: false, strict: true });
  const byType = new Map<string, ValidateFunction>();
  for (const type of EVENT_TYPES) byType.set(type, ajv.compile(clientEventSchemas[type]));

  return (input) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return { ok: false, code: 'GW_ERR_EVENT_NOT_OBJECT', reason: 'event must be a JSON object' };
    }
    const type = (input as { type?: unknown }).type;
    const check = typeof type === 'string' ? byType.get(type) : undefined;
    if (!check) {
      return {
        ok: false,
        code: 'GW_ERR_UNKNOWN_EVENT_TYPE',
        reason: `unknown event type ${JSON.stringify(type ?? null)}; expected one of ${EVENT_TYPES.join(', ')}`,
      };
    }
    if (!check(input)) return { ok: false, code: 'GW_ERR_EVENT_INVALID', reason: `${type as EventType}: ${describe(check.errors)}` };
    return { ok: true, event: input as ClientEvent };
  };
}
