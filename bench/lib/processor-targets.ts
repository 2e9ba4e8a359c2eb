/** Issue 11's targets as bench:processor judges them. */
export const TARGETS = {
  freshnessP95Ms: 2000,
  analyticsVsKafka: 0.5,
  indexVsBulk: 0.7,
  analyticsCpuUs: 15,
  rssMb: 512,
  /**
   * A freshness segment counts only if the gateway accepted at least this share of the events/s
   * asked (the overload table's bar, lib/overload.ts): a freshness taken at a fraction of the load
   * says nothing about the target's 10,000 events/s.
   */
  freshnessLoadRatio: 0.9,
};
