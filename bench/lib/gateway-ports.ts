import type { parseArgs } from './args.js';

/** bench:gateway's ports, each settable by its flag (every target listens on a port of its own). */
export function gatewayBenchPorts(a: ReturnType<typeof parseArgs>) {
  return {
    // Not 9092 (a local Kafka) nor 29092 (the shared test broker some set-ups keep running).
    kafka: a.num('kafka-port', 29192),
    controller: a.num('controller-port', 29193),
    gateway: a.num('gateway-port', 28080),
    bare: a.num('bare-port', 28081),
    stub: a.num('stub-port', 28082),
    uncoalesced: a.num('uncoalesced-port', 28083),
    kafkajs: a.num('kafkajs-port', 28084),
    workers: a.num('workers-port', 28085),
    compressed: a.num('compressed-port', 28086),
    acceptor: a.num('acceptor-port', 28087),
    linger: a.num('linger-port', 28088),
    ab: a.num('ab-port', 28089),
    abStub: a.num('ab-stub-port', 28090),
    variants: a.num('variant-port', 28095),
  };
}
