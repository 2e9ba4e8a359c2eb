/**
 * Every setting of the gateway, the processor, the demo and infra, in one table.
 * Read from the environment; the README's configuration table is generated from
 * this list (`npm run config:doc`), so a setting cannot exist without being documented.
 */

type Kind = 'string' | 'int' | 'bool' | 'list';

interface Setting<K extends Kind = Kind> {
  env: string;
  kind: K;
  default: string;
  doc: string;
  /** Which parts read it. */
  scope: 'all' | 'gateway' | 'processor' | 'infra' | 'demo' | 'dashboard' | 'kibana';
}

const s = <K extends Kind>(env: string, kind: K, def: string, scope: Setting['scope'], doc: string): Setting<K> => ({
  env,
  kind,
  default: def,
  scope,
  doc,
});

export const SETTINGS = {
  kafkaBrokers: s('KAFKA_BROKERS', 'list', '127.0.0.1:9092', 'all', 'Kafka bootstrap servers, comma-separated.'),
  kafkaClientId: s('KAFKA_CLIENT_ID', 'string', 'clickstream', 'all', 'Client id sent to Kafka (suffixed with -gateway / -processor).'),
  kafkaSsl: s('KAFKA_SSL', 'bool', 'false', 'all', 'Use TLS to talk to Kafka.'),
  kafkaSslCaFile: s('KAFKA_SSL_CA_FILE', 'string', '', 'all', 'PEM file of the certificate authority (or self-signed certificate) Kafka\'s TLS certificate must chain to, instead of the system\'s CAs.'),
  kafkaSaslMechanism: s('KAFKA_SASL_MECHANISM', 'string', '', 'all', 'plain, scram-sha-256 or scram-sha-512; empty disables SASL.'),
  kafkaSaslUsername: s('KAFKA_SASL_USERNAME', 'string', '', 'all', 'SASL user name.'),
  kafkaSaslPassword: s('KAFKA_SASL_PASSWORD', 'string', '', 'all', 'SASL password.'),
  topicPrefix: s('TOPIC_PREFIX', 'string', '', 'all', 'Prefix for every topic name (several pipelines on one cluster, or test isolation).'),
  topicPartitions: s('TOPIC_PARTITIONS', 'int', '6', 'infra', 'Partitions per event topic when the topics are created; the processor scales out up to this many instances. The dashboard reads the open KPI windows of this many partitions by id (and of any higher partition its search saw).'),
  topicReplication: s('TOPIC_REPLICATION', 'int', '1', 'infra', 'Replication factor when the topics are created (3 in production).'),

  esUrl: s('ES_URL', 'string', 'http://127.0.0.1:9200', 'all', 'Elasticsearch URL.'),
  esUsername: s('ES_USERNAME', 'string', '', 'all', 'Elasticsearch basic-auth user (empty: none).'),
  esPassword: s('ES_PASSWORD', 'string', '', 'all', 'Elasticsearch basic-auth password.'),
  esApiKey: s('ES_API_KEY', 'string', '', 'all', 'Elasticsearch API key (takes precedence over user/password).'),
  esCaFile: s('ES_CA_FILE', 'string', '', 'all', 'PEM file of the CA an https ES_URL\'s certificate chains to (a default Elasticsearch 8 install: config/certs/http_ca.crt); empty: the system\'s CAs.'),
  esCaFingerprint: s('ES_CA_FINGERPRINT', 'string', '', 'all', 'SHA-256 fingerprint of the CA certificate to pin for an https ES_URL (as Elasticsearch prints it at first start), instead of or besides ES_CA_FILE.'),
  esIndexPrefix: s('ES_INDEX_PREFIX', 'string', 'clickstream', 'all', 'Prefix of every index and template name.'),
  esKpiRefreshIntervalMs: s('ES_KPI_REFRESH_INTERVAL_MS', 'int', '250', 'infra', 'Refresh interval of the KPI window index (`index.refresh_interval`, set on its template and on the index if it exists when the templates are installed): how long a written KPI document may stay invisible to searches. Elasticsearch\'s default is 1 s.'),
  esKpiTranslogDurability: s('ES_KPI_TRANSLOG_DURABILITY', 'string', 'async', 'infra', 'Translog durability of the KPI window index (`index.translog.durability`, on its template and on the index if it exists): `request` fsyncs before every bulk is acknowledged; `async` fsyncs every 5 s, so a KPI bulk returns sooner, and the analytics role then flushes the KPI index (a Lucene commit) after each flush that wrote final KPI documents, before committing the offsets past them, so an Elasticsearch crash loses at most provisional values (rewritten when their window next changes or seals).'),

  gatewayHost: s('GATEWAY_HOST', 'string', '127.0.0.1', 'gateway', 'Address the gateway listens on.'),
  gatewayPort: s('GATEWAY_PORT', 'int', '8080', 'gateway', 'Port the gateway listens on.'),
  gatewayBodyLimit: s('GATEWAY_BODY_LIMIT', 'int', '524288', 'gateway', 'Largest request body in bytes (413 above).'),
  gatewayMaxBatch: s('GATEWAY_MAX_BATCH', 'int', '500', 'gateway', 'Most events in one request (413 above).'),
  gatewayKafkaClient: s('GATEWAY_KAFKA_CLIENT', 'string', 'platformatic', 'gateway', 'Kafka client library of the gateway\'s producer: `platformatic` (@platformatic/kafka, about 9x less CPU per record than kafkajs here: bench/README.md) or `kafkajs`. Both are idempotent with acks=all and put a key on the same partition as Java\'s client.'),
  gatewayWorkers: s('GATEWAY_WORKERS', 'int', '2', 'gateway', 'Gateway processes started by `gateway/server.ts` (node:cluster, sharing the port; one that dies is restarted): one per core of a 2-core host, where one process is capped by its own thread (bench/README.md). Each has its own Kafka producer, dedup window, rate-limit counters and admission control, so a retry that reaches the other process is written to Kafka again and left out by the processor\'s repeat filter: see gateway/README.md, "Scaling out". 1 where the gateway gets one core (the Kubernetes manifests set it and scale pods).'),
  gatewayAcceptor: s('GATEWAY_ACCEPTOR', 'bool', 'true', 'gateway', 'A process of its own accepts every connection and hands it to a gateway process (GATEWAY_WORKERS of them, 1 included) as fast as that process reports room for; while no gateway process has room it answers ingest requests 503 GW_ERR_OVERLOADED itself, on another core, and the gateway processes close the connection of each request they shed, so shedding a spike costs them almost nothing: see gateway/README.md, "Overload". false: one process (or GATEWAY_WORKERS sharing the socket) sheds on its own thread.'),
  gatewayKafkaCompression: s('GATEWAY_KAFKA_COMPRESSION', 'string', 'snappy', 'gateway', 'Compression of the gateway\'s record batches: `none`, `snappy`, `lz4`, `zstd` or `gzip`. snappy cost the gateway ~10 % less CPU per request than lz4 at the maximum (the batches to one partition are small, where @platformatic/kafka\'s lz4 costs more per call) for ~1.4x lz4\'s bytes on disk, still ~9x fewer than `none` (bench/README.md). Every consumer of the topics must read it: Java clients, librdkafka, @platformatic/kafka and the processor do; a plain kafkajs consumer elsewhere needs a codec (`none` for one).'),
  gatewayKafkaLingerMs: s('GATEWAY_KAFKA_LINGER_MS', 'int', '2', 'gateway', 'Under load (the previous send to Kafka carried several requests), wait this many milliseconds before the next one so it carries more (fewer, bigger produce requests: a produce request costs the broker about the same whatever it carries); an idle gateway never waits. 0: send as soon as the previous send is acknowledged.'),
  gatewayKafkaSendsInFlight: s('GATEWAY_KAFKA_SENDS_IN_FLIGHT', 'int', '1', 'gateway', 'Sends to Kafka in flight at once, each on an idempotent producer of its own (its own connection and producer id; the client keeps one produce request in flight per idempotent connection). A request arriving while fewer are in flight goes at once instead of waiting for the send under way to be acknowledged. 1 (one group commit at a time) had the shorter half-load tail with the broker on the same machine; more may pay when the broker is far.'),
  gatewayProduceTimeoutMs: s('GATEWAY_PRODUCE_TIMEOUT_MS', 'int', '3000', 'gateway', 'How long a request waits for Kafka\'s acknowledgement before it is answered 503 (Kafka is then treated as down until a probe reaches it).'),
  gatewayRetryAfterS: s('GATEWAY_RETRY_AFTER_S', 'int', '5', 'gateway', 'Retry-After seconds sent with 503 when Kafka cannot take events.'),
  gatewayMaxInFlight: s('GATEWAY_MAX_IN_FLIGHT', 'int', '100000', 'gateway', 'Most events waiting for Kafka\'s acknowledgement at once (bounds memory); requests beyond it get 503 with Retry-After.'),
  gatewayMaxQueueDelayMs: s('GATEWAY_MAX_QUEUE_DELAY_MS', 'int', '1000', 'gateway', 'Overload bound: when the oldest admitted request has waited this long (counted from its arrival: its connection\'s accept, or the acceptor\'s read of it, while the gateway is busy), or the events waiting for Kafka would take this long at the recent acknowledgement rate, new requests get 503 GW_ERR_OVERLOADED at once; a request that has already waited this long when it is read is refused too (0 disables).'),
  gatewayMaxQueuedBytes: s('GATEWAY_MAX_QUEUED_BYTES', 'int', '33554432', 'gateway', 'Most request-body bytes held at once by admitted, unanswered requests (by Content-Length, checked before the body is read); past it new requests get 503 GW_ERR_OVERLOADED.'),
  gatewayMaxLoopLagMs: s('GATEWAY_MAX_LOOP_LAG_MS', 'int', '30', 'gateway', 'Overload bound on the event loop: once the loop has spent this long reading one batch of more than 16 requests (so the request read now waited at least this long unread, in the socket) while it is busy (GATEWAY_SHED_MIN_LOOP_BUSY_PCT), the rest of the batch gets 503 GW_ERR_OVERLOADED at once, before their bodies are read (0 disables). Keeps every loop turn short, so it also bounds how long a shed request waits for its answer.'),
  gatewayShedMinLoopBusyPct: s('GATEWAY_SHED_MIN_LOOP_BUSY_PCT', 'int', '90', 'gateway', 'GATEWAY_MAX_LOOP_LAG_MS sheds only while the event loop was busy at least this share (percent) of the last quarter second: one long pause of an otherwise idle gateway (a garbage collection) sheds nothing. Busy counts the thread\'s own CPU time against that plus its idle time, not the time it waited for a core on a machine short of them.'),
  gatewayMaxRequestsInFlight: s('GATEWAY_MAX_REQUESTS_IN_FLIGHT', 'int', '1024', 'gateway', 'Most ingest requests admitted and not yet answered at once; past it new requests get 503 GW_ERR_OVERLOADED before their body is read. About 100 KB each in all their forms (body, parsed and enriched events, Kafka records): the default bounds that to ~100 MB per process, and to well under a second of work at the maximum rate.'),
  gatewayShedRetryAfterMaxS: s('GATEWAY_SHED_RETRY_AFTER_MAX_S', 'int', '5', 'gateway', 'Retry-After of a request shed for overload is drawn at random from 1 to this many seconds, so clients do not all come back at once.'),
  gatewayRequestTimeoutMs: s('GATEWAY_REQUEST_TIMEOUT_MS', 'int', '30000', 'gateway', 'How long a client has to send a whole request (headers and body); a slower one (a stalled body) is answered 408 GW_ERR_REQUEST_TIMEOUT and its connection closed. Checked about every tenth of it (at most every second).'),
  gatewayTraceHops: s('GATEWAY_TRACE_HOPS', 'bool', 'false', 'gateway', 'Diagnostics: each ingest answer gets a Server-Timing header with where the request\'s time went in the gateway process (read, parse, own work, waiting for the group commit, Kafka\'s acknowledgement, resume) and the GC pauses it overlapped (bench:gateway-half --trace). Off: no cost.'),
  gatewayWorkerNice: s('GATEWAY_WORKER_NICE', 'int', '0', 'gateway', 'Niceness the primary adds to each gateway process it starts behind the acceptor (GATEWAY_ACCEPTOR; 0..19): the acceptor, in the primary, then gets a core before the work it protects. On a machine shared with other busy processes (5 there: 503s not delayed behind the gateway processes\' requests) it helps; on a quiet one it costs accepted throughput at 5x (20 % in one run), hence 0; see gateway/README.md, "Overload".'),
  gatewayMaxHeapMb: s('GATEWAY_MAX_HEAP_MB', 'int', '768', 'gateway', 'V8 old-space limit (--max-old-space-size, MB) of each gateway process the primary starts (behind the acceptor, the default, or GATEWAY_WORKERS > 1; 0: V8\'s own, about a quarter of the machine\'s memory up to 4 GB). V8 lets a busy process\'s heap grow to its limit before collecting hard: this bounds RSS at about this + 300 MB per process (geoip-lite\'s tables outside the heap, young generation, code; an estimate), while the admission bounds keep what is live to a few hundred MB at worst.'),
  gatewayMinHeapMb: s('GATEWAY_MIN_HEAP_MB', 'int', '256', 'gateway', 'V8 old-space size (--initial-old-space-size, MB; at most half GATEWAY_MAX_HEAP_MB) below which a gateway process the primary starts (as for GATEWAY_MAX_HEAP_MB) begins no full garbage collection on its own. Without it V8 keeps the old-space limit just above what is live (~35 MB) and, its young generation being larger than the room left, starts marking again right after each collection: a 10-70 ms pause every 1-3 s under load, a share of the half-load p99 (bench/README.md). Costs up to this much RSS. 0: V8\'s own. A single process without the acceptor takes node flags directly (NODE_OPTIONS=--initial-old-space-size=256).'),
  gatewayMinYoungMb: s('GATEWAY_MIN_YOUNG_MB', 'int', '64', 'gateway', 'Floor of V8\'s young generation (--min-semi-space-size, MB per semi-space; 64 is Node 24\'s ceiling here, so the default pins it) in each gateway process the primary starts (as for GATEWAY_MAX_HEAP_MB). V8 starts a process with 1 MB semi-spaces and grows them only as objects survive, which a gateway\'s mostly do not; and a gateway coming out of a busy spell and a pause collected its young generation 2-2.7x as often for 10-20 s of load. With the floor every stretch of load collects as often as a settled one (bench/README.md). The young generation\'s pages are then held from the first busy seconds, as a busy process held them before: about 70-80 MB more RSS per process at the demo\'s light load (347 vs 268-280 MB after 3 min). 0: V8\'s own.'),
  gatewayV8Pretenuring: s('GATEWAY_V8_PRETENURING', 'bool', 'false', 'gateway', 'V8\'s allocation-site pretenuring in each gateway process the primary starts (as for GATEWAY_MAX_HEAP_MB; false: --no-allocation-site-pretenuring). Under maximum load most of a request\'s objects outlive one young-generation collection, so V8 starts allocating them straight in the old generation, and it keeps doing so after the load falls: a gateway that went through a spike then spent 5-6x as long in young collections at half load (400-460 vs 62-84 ms per 10 s), with a mark-compact every second, p95 14.8 vs 8.0 ms (bench/README.md, the half-load tail). true: V8\'s default.'),
  gatewayV8MemoryReducer: s('GATEWAY_V8_MEMORY_REDUCER', 'bool', 'false', 'gateway', 'V8\'s memory reducer in each gateway process the primary starts (as for GATEWAY_MAX_HEAP_MB; false: --no-memory-reducer). When a process goes idle, V8 collects and shrinks its heap; the next load then grows it again: with Kafka stubbed, a gateway that had been idle for 50 s between 10-s runs took 0.189-0.199 ms of CPU per request against 0.178-0.183 without the reducer, and shed a few requests on resuming (bench/README.md, twenty-fourth stop). The heap an idle process keeps is what its last load grew (bounded by GATEWAY_MAX_HEAP_MB). true: V8\'s default.'),
  gatewayCloseWhileOverloaded: s('GATEWAY_CLOSE_WHILE_OVERLOADED', 'bool', 'false', 'gateway', 'Behind the acceptor (GATEWAY_ACCEPTOR): a gateway process that is overloaded (it shed a request within the last half second) answers every ingest request with `connection: close`, the admitted ones too, so the client\'s next request comes on a new connection to the acceptor, which sheds it at once on its own core or hands it over once the process has room. Without it the next request of a kept-alive connection waits for that process\'s busy loop and is then shed there, late: those sheds set the shed p99 under overload. Costs a connection hand-over per admitted request while overloaded.'),
  gatewayAcceptorMaxWaitMs: s('GATEWAY_ACCEPTOR_MAX_WAIT_MS', 'int', '20', 'gateway', 'Behind the acceptor (GATEWAY_ACCEPTOR): the longest a request the acceptor has read waits for a gateway process that is not overloaded but cannot take it this moment (its hand-over channel busy, or no room in its last report) before the acceptor answers it 503 itself (at least 20, at most half GATEWAY_MAX_QUEUE_DELAY_MS). While 80 % or more of its recent waits ended in a 503 anyway (sustained overload), such a request is answered at once instead, one in 128 still waiting (gateway/acceptor-waits.ts). Longer spares a few 503s right after a busy spell, but it is also how long a shed request waits for its answer under overload: at 5x, 500 ms of it gave shed p99 1.6-2.7 s, 40 ms 77-408 ms, 20 ms 61-310 ms (bench/README.md).'),
  gatewayMaxConnections: s('GATEWAY_MAX_CONNECTIONS', 'int', '10000', 'gateway', 'Most open client connections; the gateway closes new ones beyond it at once (each costs memory and a file descriptor).'),
  gatewayListenBacklog: s('GATEWAY_LISTEN_BACKLOG', 'int', '4096', 'gateway', 'Length of the queue of new connections the kernel completes before the gateway accepts them (listen backlog; the kernel caps it at net.core.somaxconn). Past it the kernel drops new connections, and browsers retry their SYN only after 1, 3, 7 s, a wait the gateway never sees; a queued connection waits only for the next event-loop turn, which overload shedding keeps short.'),
  gatewayShutdownTimeoutMs: s('GATEWAY_SHUTDOWN_TIMEOUT_MS', 'int', '10000', 'gateway', 'On SIGTERM, how long the gateway waits for in-flight sends to Kafka before it disconnects.'),
  gatewayDedupWindowS: s('GATEWAY_DEDUP_WINDOW_S', 'int', '600', 'gateway', 'An event accepted for the same site under the same id within this many seconds: dropped as a duplicate when its bytes are the same, refused as GW_ERR_EVENT_ID_CONFLICT when not (0 disables).'),
  eventMaxAgeDays: s('EVENT_MAX_AGE_DAYS', 'int', '30', 'gateway', 'An event whose time (clock-skew corrected with `sent_at`) is more than this many days before the gateway received it is refused (`GW_ERR_EVENT_TIME_OUT_OF_RANGE`, dead-lettered): late for every KPI window, and bounds what a client can claim.'),
  eventMaxFutureS: s('EVENT_MAX_FUTURE_S', 'int', '600', 'gateway', 'An event time ahead of the receive time by up to this many seconds (a client clock slightly fast, no `sent_at`) is set to the receive time; further ahead it is refused (`GW_ERR_EVENT_TIME_OUT_OF_RANGE`): one future-dated event would make every later event of its partition late.'),
  gatewayDedupMax: s('GATEWAY_DEDUP_MAX', 'int', '200000', 'gateway', 'Most event ids remembered for deduplication (oldest forgotten first; bounds memory).'),
  deadLetterRawBytes: s('DEAD_LETTER_RAW_BYTES', 'int', '8192', 'all', 'Bytes kept of each dead letter\'s payload, both as parsed (`raw`) and as received (`received`); longer ones are cut and marked.'),
  gatewayCorsOrigins: s('GATEWAY_CORS_ORIGINS', 'list', '*', 'gateway', 'Open mode only (no SITES / SITES_FILE): origins allowed to post events, comma-separated; * for any.'),
  sites: s('SITES', 'string', '', 'gateway', 'Sites allowed to send events: `KEY:ORIGIN,ORIGIN;KEY2:*` (the key is also the site id). Empty with no SITES_FILE: the gateway runs open (demo mode).'),
  sitesFile: s('SITES_FILE', 'string', '', 'gateway', 'JSON file of sites: `{"sites":[{"key":"pk_shop","site_id":"shop","origins":["https://shop.example"]}]}`; merged with SITES.'),
  gatewayRateLimitIp: s('GATEWAY_RATE_LIMIT_IP', 'int', '6000', 'gateway', 'Requests per window from one client IP (IPv6: per /64) before 429 (0 disables).'),
  gatewayRateLimitSite: s('GATEWAY_RATE_LIMIT_SITE', 'int', '120000', 'gateway', 'Requests per window for one site before 429 (0 disables).'),
  gatewaySiteEventsPerS: s('GATEWAY_SITE_EVENTS_PER_S', 'int', '20000', 'gateway', 'Events per second one site may send (token bucket, per gateway instance), whatever the number of requests; a batch over it gets 429 GW_ERR_EVENTS_RATE_LIMITED with Retry-After (0 disables).'),
  gatewaySiteEventsBurst: s('GATEWAY_SITE_EVENTS_BURST', 'int', '200000', 'gateway', 'Events one site may send at once above GATEWAY_SITE_EVENTS_PER_S (the bucket size); at least GATEWAY_MAX_BATCH.'),
  gatewayRateLimitWindowS: s('GATEWAY_RATE_LIMIT_WINDOW_S', 'int', '60', 'gateway', 'Window of both rate limits, in seconds (limits are per gateway instance).'),
  trustedProxies: s('TRUSTED_PROXIES', 'list', '', 'gateway', 'Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed, comma-separated. Empty: none; the client IP is the socket address.'),
  botPolicy: s('BOT_POLICY', 'string', 'flag', 'gateway', 'What to do with events from bots (isbot): `flag` (keep, is_bot=true), `route` (to the `bots` topic) or `drop` (counted in metrics and in the response, never stored).'),
  geoipMmdbPath: s('GEOIP_MMDB_PATH', 'string', '', 'gateway', 'A MaxMind-format .mmdb file (City or Country) to use for geo instead of geoip-lite\'s bundled GeoLite2 data.'),
  userIdHashKey: s('USER_ID_HASH_KEY', 'string', '', 'gateway', 'When set, user ids are replaced by HMAC-SHA256(key, user_id) in hex before they leave the gateway; also keys the pixel\'s derived visitor ids.'),
  urlQueryAllowlist: s('URL_QUERY_ALLOWLIST', 'list', 'utm_*', 'gateway', 'Query parameters a page URL keeps when the gateway normalises it (`url`; the URL as sent stays in `url_raw`), comma-separated: names, `prefix*`, or `*` for all; every other parameter is dropped, as is the fragment (except a hash route `#/…`), so `thanks.html?order=1` and `?order=2` are one page in every KPI, URL stat, session and breakdown.'),
  gatewayServeSdk: s('GATEWAY_SERVE_SDK', 'bool', 'true', 'gateway', 'Serve the SDK\'s script-tag builds at /sdk/ (versioned immutable paths, a short-cached alias, /sdk/manifest.json with the SRI hashes); false when a CDN or the site serves them.'),
  gatewaySdkDir: s('GATEWAY_SDK_DIR', 'string', '', 'gateway', 'Directory of the built SDK scripts the gateway serves (empty: sdk/dist of the installation, made by `npm run build:sdk`).'),
  gatewayDemoShop: s('GATEWAY_DEMO_SHOP', 'bool', 'false', 'gateway', 'Serve the demo shop (sdk/demo) at /demo/ and redirect / to it (`npm run demo` sets it for the gateway it starts).'),
  logLevel: s('LOG_LEVEL', 'string', 'info', 'all', 'pino log level: fatal, error, warn, info, debug, trace, silent.'),

  processorGroupId: s('PROCESSOR_GROUP_ID', 'string', 'clickstream-processor', 'processor', 'Prefix of the processor\'s Kafka consumer groups, one per role: `<id>-analytics`, `<id>-index`, `<id>-archive`; instances with the same id share each role\'s partitions.'),
  processorHeapGrowingPercent: s('PROCESSOR_HEAP_GROWING_PERCENT', 'string', 'auto', 'processor', 'How far V8 may grow a processor process\'s heap past what its last full collection left alive, in per cent (V8\'s `--heap-growing-percent`, which the process sets on itself at start-up: Node refuses it in NODE_OPTIONS); `auto`: 100 for a process that runs the analytics role, 50 for one that runs the archive without it, V8\'s own for raw indexing alone. Every role holds what it reads for seconds to minutes (open windows and sessions, the repeat horizon, the archive\'s open chunks), so most of what it allocates dies in the old generation, and V8\'s own factor (up to 4x on a machine with gigabytes) filled that with garbage: at 10,000 events/s the analytics role\'s RSS peaked at 524-529 MB with it and at 400-412 MB at 100 (about 3 % more CPU per event; 50: 361-378 MB for 20-30 % more), the archive\'s at 520-550 MB with it, 402 MB at 50 over 20 minutes and still growing near 500 MB at 100 (bench/README.md). 0: V8\'s own.'),
  processorBackgroundNice: s('PROCESSOR_BACKGROUND_NICE', 'int', '10', 'processor', 'Niceness (0-19, as `nice`) a processor process gives itself when it runs the `index` and/or `archive` roles without `analytics`: on a machine shared with the analytics role, the gateway, Kafka or Elasticsearch, raw indexing and the archive (which may lag) yield the CPU to the KPIs (which may not). 0: left as started.'),
  processorRoles: s('PROCESSOR_ROLES', 'list', 'analytics,index,archive', 'processor', 'Roles this instance runs, comma-separated: `analytics` (KPI windows, sessions, URL x country), `index` (raw events into Elasticsearch; also dead-letters unreadable records), `archive` (Parquet). Each role has its own consumer group and commits, so a slow or failed output holds back only itself.'),
  processorKafkaClient: s('PROCESSOR_KAFKA_CLIENT', 'string', 'platformatic', 'processor', 'Kafka client library of the processor\'s consumers: `platformatic` (@platformatic/kafka, maintained; less CPU per record: bench/README.md), or `kafkajs` (the fallback). Both: the same consumer groups, co-partitioned assignor, commits after every sink flushed, one attempt each under the generation they were built for.'),
  processorStallS: s('PROCESSOR_STALL_S', 'int', '60', 'processor', 'A role is reported stalled (readiness 503, processor_stalled 1) when it holds no partitions, or is behind the log end and has consumed and committed nothing for this many seconds.'),
  processorIndexYieldPressurePct: s('PROCESSOR_INDEX_YIELD_PRESSURE_PCT', 'int', '70', 'processor', 'The `index` role holds each raw-event bulk while the host\'s CPU pressure (Linux PSI, `/proc/pressure/cpu`, its 10 s average: the share of time some task waited for a CPU) is at or above this percent, so Elasticsearch\'s CPU goes to the KPI writes first and raw indexing lags instead (processor/index-yield.ts; the issue\'s bar is KPI freshness while raw indexing may lag). Raw indexing alone with Elasticsearch on 2 cores ran at 20-50 %, the whole pipeline at 10,000 events/s at 84-96 %. 0: never hold; no effect where the kernel has no PSI. It reads the pressure of the host the role runs on, so it helps where the role shares a host with Elasticsearch and the analytics role; on a cluster, give Elasticsearch the cores instead.'),
  processorIndexYieldMaxWaitMs: s('PROCESSOR_INDEX_YIELD_MAX_WAIT_MS', 'int', '30000', 'processor', 'Longest time one raw-event bulk is held for CPU pressure (PROCESSOR_INDEX_YIELD_PRESSURE_PCT) before it is sent anyway, at most half of PROCESSOR_STALL_S so the role is never reported stalled. Under sustained pressure raw indexing then runs at about PROCESSOR_BATCH_SIZE events per this time; 5 s let enough through that the KPI bulks still queued behind it (bench/README.md).'),
  processorIndexYieldMaxLagS: s('PROCESSOR_INDEX_YIELD_MAX_LAG_S', 'int', '900', 'processor', 'A raw-event bulk whose first event was received this many seconds ago is never held for CPU pressure: how stale the raw index may get under sustained pressure before raw indexing takes its full share again.'),
  processorBatchSize: s('PROCESSOR_BATCH_SIZE', 'int', '2000', 'processor', 'Most events per Elasticsearch bulk request.'),
  processorMetricsHost: s('PROCESSOR_METRICS_HOST', 'string', '127.0.0.1', 'processor', 'Address of the processor\'s /healthz, /readyz and /metrics.'),
  processorMetricsPort: s('PROCESSOR_METRICS_PORT', 'int', '9464', 'processor', 'Port of the processor\'s /healthz, /readyz and /metrics (0 disables).'),
  processorSessionTimeoutMs: s('PROCESSOR_SESSION_TIMEOUT_MS', 'int', '6000', 'processor', 'Kafka consumer session timeout: how long a dead (SIGKILLed) instance keeps its partitions before the group hands them on, and so about how long consumption pauses after one. 6000 is the broker\'s default group.min.session.timeout.ms; the processor\'s Kafka request timeout is this plus 5 s.'),
  processorFlushIntervalMs: s('PROCESSOR_FLUSH_INTERVAL_MS', 'int', '250', 'processor', 'Sinks are flushed (and offsets committed) at least this often while events flow, and the index and archive roles also after PROCESSOR_BATCH_SIZE events (one flush at a time: the next waits for the one in flight).'),
  kpiTumblingS: s('KPI_TUMBLING_S', 'int', '60', 'processor', 'Size of the tumbling KPI windows and of the URL x country windows, in seconds.'),
  kpiSlidingSizeS: s('KPI_SLIDING_SIZE_S', 'int', '300', 'processor', 'Size of the sliding KPI windows, in seconds (0: no sliding windows).'),
  kpiSlidingStepS: s('KPI_SLIDING_STEP_S', 'int', '60', 'processor', 'Step of the sliding KPI windows, in seconds; the size must be a multiple of it.'),
  kpiAllowedLatenessS: s('KPI_ALLOWED_LATENESS_S', 'int', '60', 'processor', 'An event older than the latest event time of its topic-partition by more than this is late: counted in late_events and the metrics, never added to a window or session. The dashboard reads the KPI windows ending within this of now by id, in real time (they may still change).'),
  kpiEmitIntervalMs: s('KPI_EMIT_INTERVAL_MS', 'int', '250', 'processor', 'How often the current value of open KPI windows is written: on its own timer with KPI_EMIT_BETWEEN_FLUSHES, else at the next flush (0: at every flush); windows are written once more, final, when the watermark passes their end. What the KPI freshness depends on, with PROCESSOR_FLUSH_INTERVAL_MS, ES_KPI_BULK_REFRESH and ES_KPI_REFRESH_INTERVAL_MS.'),
  sessionEmitIntervalMs: s('SESSION_EMIT_INTERVAL_MS', 'int', '1000', 'processor', 'How often the current value of open sessions and URL x country windows is written, at the next flush (0: at every flush); they are written once more, final, when they close. Far more documents than the KPI windows (one per active session), so less often.'),
  sessionBulkDocs: s('SESSION_BULK_DOCS', 'int', '0', 'processor', 'Most session and URL x country documents in one bulk request of the analytics role (0: a flush\'s in one request): with N, a flush sends them in requests of N, one after another, so a KPI bulk waits in Elasticsearch\'s write queue behind one of them at most, but the flush (and the final documents it writes) takes longer. Off by default: no gain shown on a saturated machine, flushes 2-5x longer (bench/README.md, "KPI freshness: the Elasticsearch hops").'),
  sessionBulkPerIndex: s('SESSION_BULK_PER_INDEX', 'bool', 'false', 'processor', 'Send a flush\'s session and URL x country documents in one request per index, one after another, instead of one request for both: Elasticsearch runs a request on one write thread per shard it touches, so one request for both took two threads, and with a raw-event bulk on a third (ES_WRITE_THREADS) the KPI bulk found none free. The flush then takes about the sum of the two writes instead of the longer.'),
  kpiEmitBetweenFlushes: s('KPI_EMIT_BETWEEN_FLUSHES', 'bool', 'true', 'processor', 'Write the open KPI windows on a timer of their own every KPI_EMIT_INTERVAL_MS, in small bulks one at a time (a tick during a bulk writes what changed as soon as it ends), between the flushes, instead of with the next flush (whose sessions and URL x country windows, thousands of documents, it would wait for). The flushes then write only the final KPI documents, before their commit. bench/README.md has the freshness of both.'),
  kpiBulkLanes: s('KPI_BULK_LANES', 'int', '1', 'processor', 'KPI bulks of the analytics role in flight at once at most: its partitions\' KPI windows are split into this many lanes (partition modulo lanes), each writing its changed windows in bulks one after another, so a window\'s values still land in order. More lanes: smaller bulks that Elasticsearch runs on several write threads at once instead of one bulk of every partition\'s windows.'),
  esKpiBulkRefresh: s('ES_KPI_BULK_REFRESH', 'string', 'false', 'processor', 'The `refresh` parameter of the KPI bulks: `false` leaves the documents to the scheduled refresh (ES_KPI_REFRESH_INTERVAL_MS), `true` makes them visible to searches when the bulk returns (a refresh of the KPI index per bulk: on a CPU-starved node it made the analytics flushes 5-10x longer, bench/README.md), `wait_for` makes the bulk wait for the scheduled refresh.'),
  kpiTraceSitePrefix: s('KPI_TRACE_SITE_PREFIX', 'string', '', 'processor', 'Events of sites whose id starts with this (synthetic probes, a canary site) are traced through the analytics role: once the bulk carrying their site\'s tumbling KPI document is acknowledged, each is logged (info, `kpiTrace`) with the wall-clock times it was fetched from Kafka, counted, put in a KPI bulk, sent and acknowledged; bench:processor joins them with its probes\' send and search times. Empty: off.'),
  kpiExcludeBots: s('KPI_EXCLUDE_BOTS', 'bool', 'true', 'processor', 'Leave events flagged is_bot out of KPIs, sessions and URL stats (they stay in the raw index and the archive).'),
  watermarkIdleS: s('WATERMARK_IDLE_S', 'int', '120', 'processor', 'A partition read up to its log end that received no event for this many seconds (wall clock) gets its watermark moved to now minus this minus KPI_ALLOWED_LATENESS_S, so the last windows become final and sessions close when traffic stops (0: only events move it). An event arriving later with an older event time is counted late. Not reproduced by a replay; see ARCHITECTURE.md.'),
  sessionGapS: s('SESSION_GAP_S', 'int', '1800', 'processor', 'A session is closed after this many seconds of event time without an event.'),
  analyticsCatchUpRecords: s('ANALYTICS_CATCH_UP_RECORDS', 'int', '10000', 'processor', 'While a topic-partition\'s log holds more than this many records beyond what the analytics role has read (as of its last offset poll, about once a second), the role writes only final documents for that partition: its open KPI windows, sessions and URL x country windows are written again, all that changed meanwhile, once it is back within the bound. A catch-up after an outage or a restart then reads faster (their current values would be stale at once); live traffic that the role keeps up with is never that far behind. 0: always written.'),
  analyticsRepeatHorizon: s('ANALYTICS_REPEAT_HORIZON', 'int', '50000', 'processor', 'A record whose site and event id its open session counted at most this many offsets before it in its topic-partition (on Kafka twice) is left out of KPIs, sessions and URL stats, first offset wins; a copy further apart is counted again (0: never dropped). Bounds the memory of repeat detection to one id per offset of this window per topic-partition.'),
  esEventsRetentionDays: s('ES_EVENTS_RETENTION_DAYS', 'int', '30', 'processor', 'Daily raw-event indices older than this many days are deleted by the processor\'s retention job (0 keeps them forever).'),
  esRetentionIntervalS: s('ES_RETENTION_INTERVAL_S', 'int', '3600', 'processor', 'How often the retention job runs, in seconds.'),
  esSnapshotRepository: s('ES_SNAPSHOT_REPOSITORY', 'string', 'clickstream-backups', 'processor', 'Name of the Elasticsearch snapshot repository `npm run backup` / `npm run restore` and the scheduled snapshot use.'),
  esSnapshotType: s('ES_SNAPSHOT_TYPE', 'string', 'fs', 'processor', 'How the repository is registered when missing: `fs` (shared filesystem under the nodes\' `path.repo`), `s3` (needs the repository-s3 module on every node) or `existing` (registered by the cluster\'s operator; never registered or changed).'),
  esSnapshotLocation: s('ES_SNAPSHOT_LOCATION', 'string', 'clickstream', 'processor', '`fs` repository location: a folder, relative to the first `path.repo` of the nodes or absolute under it (on several nodes, a shared mount).'),
  esSnapshotS3Bucket: s('ES_SNAPSHOT_S3_BUCKET', 'string', '', 'processor', '`s3` repository: bucket of the snapshots (credentials live in the nodes\' keystore, `s3.client.<name>.*`).'),
  esSnapshotS3BasePath: s('ES_SNAPSHOT_S3_BASE_PATH', 'string', 'es-snapshots', 'processor', '`s3` repository: key prefix of the snapshots in the bucket.'),
  esSnapshotS3Client: s('ES_SNAPSHOT_S3_CLIENT', 'string', 'default', 'processor', '`s3` repository: name of the S3 client configured on the nodes.'),
  esSnapshotIntervalS: s('ES_SNAPSHOT_INTERVAL_S', 'int', '86400', 'processor', 'The processor snapshots every project index this often, in seconds (0: no scheduled snapshot). Several instances take the same snapshot name for one period, so only one is taken.'),
  esSnapshotKeep: s('ES_SNAPSHOT_KEEP', 'int', '7', 'processor', 'Snapshots of this index prefix kept in the repository: older ones are deleted after each successful snapshot (0 keeps all).'),
  anomalyEnabled: s('ANOMALY_ENABLED', 'bool', 'true', 'processor', 'The analytics role also runs the stream anomaly detectors (click bursts per visitor and per network, bot-like sessions) and writes their alerts to the alerts index (and the webhook).'),
  anomalyBurstSpans: s('ANOMALY_BURST_SPANS', 'string', '10:8,60:25', 'processor', 'Click bursts per visitor: sliding spans and their floors, `SECONDS:MIN_CLICKS` comma-separated; a visitor is alerted when its clicks in a span reach both the floor and the population threshold.'),
  anomalyNetworkSpans: s('ANOMALY_NETWORK_SPANS', 'string', '10:15,60:45', 'processor', 'Click bursts per site and anonymised network prefix (/24, /48): spans and floors, as ANOMALY_BURST_SPANS.'),
  anomalyBurstK: s('ANOMALY_BURST_K', 'string', '6', 'processor', 'Population threshold of a burst span: median + K x MAD of all keys\' counts per span over the last 10 minutes.'),
  anomalyNetworkSelfFactor: s('ANOMALY_NETWORK_SELF_FACTOR', 'string', '5', 'processor', 'A network is also alerted only above this many times its own usual count per span (big NATs are always busy).'),
  anomalyBurstCooldownS: s('ANOMALY_BURST_COOLDOWN_S', 'int', '300', 'processor', 'After a burst alert, the same visitor or network raises nothing for this long (event time).'),
  anomalyBurstMaxKeys: s('ANOMALY_BURST_MAX_KEYS', 'int', '100000', 'processor', 'Most visitors (and, separately, networks) the burst detectors hold per processor instance; least recently seen dropped first (bounds memory).'),
  anomalyBotThreshold: s('ANOMALY_BOT_THRESHOLD', 'string', '0.64', 'processor', 'Isolation-forest score (0..1) at or above which a closed session is alerted as bot-like.'),
  anomalyBotRefreshS: s('ANOMALY_BOT_REFRESH_S', 'int', '3600', 'processor', 'The bot-session model is retrained on the most recent closed sessions every this many seconds of event time.'),
  anomalyBotMinTraining: s('ANOMALY_BOT_MIN_TRAINING', 'int', '200', 'processor', 'Closed sessions (of 5 events or more) needed before the first bot-session model, and so before any bot alert.'),
  anomalyBotSessionGapS: s('ANOMALY_BOT_SESSION_GAP_S', 'int', '600', 'processor', 'The bot-session model scores a session once it had no event for this long (event time).'),
  anomalySiteStepS: s('ANOMALY_SITE_STEP_S', 'int', '300', 'processor', 'Site-level detector: length of the windows of each site\'s series (visitors, purchases, revenue), in seconds.'),
  anomalySiteTrafficThreshold: s('ANOMALY_SITE_TRAFFIC_THRESHOLD', 'string', '5.5', 'processor', 'Site-level detector: score at which a window of traffic is anomalous (see the README\'s Anomaly detection section).'),
  anomalySiteTrafficMinRise: s('ANOMALY_SITE_TRAFFIC_MIN_RISE', 'string', '2', 'processor', 'Site-level detector: a traffic rise is anomalous only at this many times the expected visitors or more, however improbable (a relevance floor: busy days are not incidents).'),
  anomalySiteTrafficMaxFall: s('ANOMALY_SITE_TRAFFIC_MAX_FALL', 'string', '0.55', 'processor', 'Site-level detector: a traffic fall is anomalous only at this fraction of the expected visitors or less (a holiday or a quiet night runs 20-30 % low; an incident, lower).'),
  anomalySitePurchasesThreshold: s('ANOMALY_SITE_PURCHASES_THRESHOLD', 'string', '4', 'processor', 'Site-level detector: score at which a window of purchases (against the usual conversion of its visitors) is anomalous.'),
  anomalySiteConversionFall: s('ANOMALY_SITE_CONVERSION_FALL', 'string', '0.333', 'processor', 'Site-level detector: the fall of conversion its CUSUM tests for, as purchases / the usual purchases of the window\'s visitors (0.333: to a third). Smaller falls are found too, later.'),
  anomalySiteConversionEvidence: s('ANOMALY_SITE_CONVERSION_EVIDENCE', 'string', '11', 'processor', 'Site-level detector: evidence (log-likelihood ratio, nats) the conversion CUSUM accumulates before it raises conversion_drop; false alarms come at most once per e^EVIDENCE windows of the site.'),
  anomalySiteKOfN: s('ANOMALY_SITE_K_OF_N', 'string', '2/3', 'processor', 'Site-level detector: an alert needs K anomalous windows among the last N, in the same direction.'),
  anomalySiteHistoryWeeks: s('ANOMALY_SITE_HISTORY_WEEKS', 'int', '5', 'processor', 'Site-level detector: weeks of KPI history (from the KPI index) it is rerun over when it starts, from the start of a UTC week, so its seasonal baseline and noise are learned and a restart raises the same alerts.'),
  anomalySitePollMs: s('ANOMALY_SITE_POLL_MS', 'int', '5000', 'processor', 'Site-level detector: how often the instance owning partition 0 of the analytics group reads the KPI index for windows that every partition has sealed.'),
  anomalySiteGraceS: s('ANOMALY_SITE_GRACE_S', 'int', '300', 'processor', 'Site-level detector: a partition that wrote no sealed KPI window past a site window this long (wall clock) after its end is taken as idle, and the window is judged without waiting for it.'),
  alertWebhookUrl: s('ALERT_WEBHOOK_URL', 'string', '', 'processor', 'Every alert is POSTed as JSON to this URL (empty: alerts are only indexed), at least once, also across restarts: pending deliveries are kept on the alert documents and retried. Header X-Clickstream-Alert-Id carries the alert id (deliveries may repeat: deduplicate on it).'),
  alertWebhookSecret: s('ALERT_WEBHOOK_SECRET', 'string', '', 'processor', 'Key of the `X-Clickstream-Signature: sha256=<hex HMAC-SHA256 of the body>` header on webhook deliveries (empty: unsigned).'),
  alertWebhookTimeoutMs: s('ALERT_WEBHOOK_TIMEOUT_MS', 'int', '5000', 'processor', 'How long one webhook delivery attempt may take before it counts as failed.'),
  alertWebhookMaxAttempts: s('ALERT_WEBHOOK_MAX_ATTEMPTS', 'int', '20', 'processor', 'Webhook attempts per alert before its delivery is dead-lettered (state `dead` on the alert document, logged, counted in processor_alert_webhook_backlog{state="dead"}). Attempts survive restarts: the state is kept on the alert document.'),
  alertWebhookMaxAgeS: s('ALERT_WEBHOOK_MAX_AGE_S', 'int', '86400', 'processor', 'A delivery still failing this long after its alert was written is dead-lettered whatever its attempts; an alert whose event time is older than this when first written (a rerun over old history) is written `skipped`, not delivered.'),
  alertWebhookRetryBaseMs: s('ALERT_WEBHOOK_RETRY_BASE_MS', 'int', '1000', 'processor', 'Delay before the second attempt of a webhook delivery; each further one doubles it (jittered: between half and all of it), up to ALERT_WEBHOOK_RETRY_MAX_S.'),
  alertWebhookRetryMaxS: s('ALERT_WEBHOOK_RETRY_MAX_S', 'int', '300', 'processor', 'Longest delay between two attempts of a webhook delivery.'),
  alertWebhookPollMs: s('ALERT_WEBHOOK_POLL_MS', 'int', '1000', 'processor', 'How often the instance owning partition 0 of the analytics group looks in the alerts index for deliveries that are due (pending ones, also those left by an instance that crashed or restarted).'),
  archiveBackend: s('ARCHIVE_BACKEND', 'string', 'local', 'processor', 'Where Parquet archive objects go: `local` (ARCHIVE_DIR), `s3` (S3_* settings) or `none`.'),
  archiveDir: s('ARCHIVE_DIR', 'string', '.data/archive', 'processor', 'Directory of the local archive.'),
  archiveMaxEvents: s('ARCHIVE_MAX_EVENTS', 'int', '20000', 'processor', 'An archive object is cut after this many offsets of one topic-partition.'),
  archiveMaxBufferMb: s('ARCHIVE_MAX_BUFFER_MB', 'int', '32', 'processor', 'Bounds the archive role\'s memory: once the open archive objects of all its topic-partitions hold this many MB of event JSON (about as much heap; 10,000 events/s bring about 12 MB/s), the next flush writes the largest of them until they hold at most half of it, whatever ARCHIVE_MAX_EVENTS and ARCHIVE_MAX_AGE_S say. Larger: fewer, larger objects (32 instead of 64 took the archive role\'s RSS peak from 441-468 to 394-415 MB, bench/README.md); 0: no limit.'),
  archiveMaxAgeS: s('ARCHIVE_MAX_AGE_S', 'int', '60', 'processor', 'An open archive object older than this is written at the next flush, whatever its size.'),
  archiveRepeatHorizon: s('ARCHIVE_REPEAT_HORIZON', 'int', '50000', 'processor', 'A record whose site and event id were already archived at most this many offsets before it in its topic-partition (on Kafka twice) is archived once, first offset wins (0 keeps every record). The archive role re-reads this many offsets per topic-partition after a restart and holds one id per offset in memory.'),
  s3Endpoint: s('S3_ENDPOINT', 'string', '', 'processor', 'S3-compatible endpoint URL (empty: AWS for S3_REGION).'),
  s3Bucket: s('S3_BUCKET', 'string', 'clickstream-archive', 'processor', 'Bucket of the archive.'),
  s3Prefix: s('S3_PREFIX', 'string', 'events/', 'processor', 'Key prefix of every archive object.'),
  s3Region: s('S3_REGION', 'string', 'us-east-1', 'processor', 'S3 region.'),
  s3AccessKeyId: s('S3_ACCESS_KEY_ID', 'string', '', 'processor', 'S3 access key id (empty: the AWS SDK\'s default credential chain).'),
  s3SecretAccessKey: s('S3_SECRET_ACCESS_KEY', 'string', '', 'processor', 'S3 secret access key.'),
  s3ForcePathStyle: s('S3_FORCE_PATH_STYLE', 'bool', 'true', 'processor', 'Path-style bucket addressing (MinIO and most S3-compatible servers need it).'),

  dashboardHost: s('DASHBOARD_HOST', 'string', '127.0.0.1', 'dashboard', 'Address the live dashboard (page and JSON API) listens on.'),
  dashboardPort: s('DASHBOARD_PORT', 'int', '8081', 'dashboard', 'Port the live dashboard listens on.'),
  dashboardUsername: s('DASHBOARD_USERNAME', 'string', '', 'dashboard', 'Basic-auth user required by the dashboard (page and API); empty: no authentication (keep DASHBOARD_HOST on loopback then).'),
  dashboardPassword: s('DASHBOARD_PASSWORD', 'string', '', 'dashboard', 'Basic-auth password of DASHBOARD_USERNAME.'),
  dashboardRefreshS: s('DASHBOARD_REFRESH_S', 'int', '5', 'dashboard', 'How often the dashboard page fetches fresh numbers, in seconds.'),

  kibanaUrl: s('KIBANA_URL', 'string', 'http://127.0.0.1:5601', 'kibana', 'Kibana base URL `npm run kibana:import` posts the saved objects to (with its base path, if any).'),
  kibanaSpace: s('KIBANA_SPACE', 'string', '', 'kibana', 'Kibana space to import into (empty: the default space).'),
  kibanaUsername: s('KIBANA_USERNAME', 'string', '', 'kibana', 'Kibana basic-auth user for the import (empty: none).'),
  kibanaPassword: s('KIBANA_PASSWORD', 'string', '', 'kibana', 'Kibana basic-auth password.'),
  kibanaApiKey: s('KIBANA_API_KEY', 'string', '', 'kibana', 'Kibana (Elasticsearch) API key for the import, base64 `id:key` as Kibana shows it (takes precedence over user/password).'),

  dataDir: s('DATA_DIR', 'string', '.data', 'infra', 'Where Kafka and Elasticsearch keep their data and logs (project-local).'),
  kafkaPort: s('KAFKA_PORT', 'int', '9092', 'infra', 'Port of the local Kafka broker.'),
  kafkaControllerPort: s('KAFKA_CONTROLLER_PORT', 'int', '9093', 'infra', 'Port of the local KRaft controller.'),
  kafkaNodes: s('KAFKA_NODES', 'int', '1', 'infra', 'Nodes of the local Kafka cluster (KRaft, each broker and controller). With 3, node i listens on KAFKA_PORT + 2i and KAFKA_CONTROLLER_PORT + 2i, and topics get replication 3 with min.insync.replicas 2, so one node may die.'),
  kafkaLocalSecure: s('KAFKA_LOCAL_SECURE', 'bool', 'false', 'infra', 'Start the local broker with TLS and SASL/SCRAM only (certificate made at first start, CA in `<DATA_DIR>/kafka/tls/ca.pem`; SCRAM user KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD created when its storage is formatted).'),
  kafkaHeap: s('KAFKA_HEAP', 'string', '512m', 'infra', 'JVM heap of the local Kafka broker.'),
  kafkaVersion: s('KAFKA_VERSION', 'string', '3.9.1', 'infra', 'org.apache.kafka:kafka_2.13 version fetched from Maven Central.'),
  esPort: s('ES_PORT', 'int', '9200', 'infra', 'HTTP port of the local Elasticsearch node.'),
  esSnapshotDir: s('ES_SNAPSHOT_DIR', 'string', '', 'infra', 'The local node\'s `path.repo` (where `fs` snapshot repositories may live); empty: `<DATA_DIR>/elasticsearch/snapshots`.'),
  esTransportPort: s('ES_TRANSPORT_PORT', 'int', '9300', 'infra', 'Transport port of the local Elasticsearch node.'),
  esHeap: s('ES_HEAP', 'string', '1g', 'infra', 'JVM heap of the local Elasticsearch node.'),
  esRefreshThreads: s('ES_REFRESH_THREADS', 'int', '0', 'infra', 'Threads of the local Elasticsearch node\'s refresh pool (`thread_pool.refresh.max`, which runs the scheduled refreshes of every index and the writes of full indexing buffers). 0: Elasticsearch\'s own (half the cores, at most 10), but at least 2. At 10,000 events/s on 2 cores the pool\'s queue reached 7 with 2 threads, and the KPI index\'s 250 ms refresh waited in it (bench/README.md).'),
  esWriteThreads: s('ES_WRITE_THREADS', 'int', '0', 'infra', 'Threads of the local Elasticsearch node\'s write pool (`thread_pool.write.size`, which runs every shard-level bulk). 0: the cores + 1, the most Elasticsearch allows (its own default is the cores); larger values are lowered to that. With the cores alone, on 2 cores a flush\'s sessions and URL x country bulk (two shards) or it and a raw-event bulk held both threads, and a KPI bulk queued behind them for their whole length; a third thread lets the small KPI bulk run beside them (bench/README.md).'),
  esVersion: s('ES_VERSION', 'string', '8.19.21', 'infra', 'Elasticsearch version fetched from Maven Central.'),
  startTimeoutS: s('START_TIMEOUT_S', 'int', '180', 'infra', 'How long infra waits for Kafka and Elasticsearch to be healthy before it gives up.'),

  demoScenario: s('DEMO_SCENARIO', 'string', '', 'demo', 'Labelled anomalies the demo traffic generator injects so that alerts appear: click-burst, network-burst, bot-session, purchases-stop (comma-separated; empty: none). See the README\'s Anomaly detection section.'),
  demoRate: s('DEMO_RATE', 'int', '20', 'demo', 'Events per second the demo traffic generator sends (0: none).'),
  demoRestartS: s('DEMO_RESTART_S', 'int', '10', 'demo', 'The demo starts a Kafka broker that exited again after this many seconds (a crashed processor after 2 s).'),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<K extends Kind> = K extends 'int' ? number : K extends 'bool' ? boolean : K extends 'list' ? string[] : string;
export type Config = { [N in SettingName]: ValueOf<(typeof SETTINGS)[N]['kind']> };

export class ConfigError extends Error {}

function parse(setting: Setting, raw: string): number | boolean | string[] | string {
  switch (setting.kind) {
    case 'int': {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${setting.env} must be a non-negative integer, got "${raw}"`);
      return n;
    }
    case 'bool':
      if (!/^(true|false|1|0|yes|no)$/i.test(raw)) throw new ConfigError(`${setting.env} must be true or false, got "${raw}"`);
      return /^(true|1|yes)$/i.test(raw);
    case 'list':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

/**
 * Reads every setting from `env`, with `overrides` winning. Services call common/config.ts
 * `loadConfig`, which passes their process environment.
 */
export function parseConfig(env: Record<string, string | undefined>, overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    out[name] = name in overrides ? overrides[name] : parse(setting, env[setting.env] ?? setting.default);
  }
  return out as Config;
}

/**
 * Settings as environment variables (each setting's `env`), for starting a service in a child
 * process with the same config: lists joined with commas, booleans as true/false.
 */
export function configToEnv(cfg: Partial<Config>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(cfg)) {
    const setting = (SETTINGS as Record<string, Setting>)[name];
    if (!setting) throw new ConfigError(`configToEnv: no setting named ${name}`);
    if (value === undefined) continue;
    env[setting.env] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return env;
}

/** Markdown table of every setting, for the README. */
export function configTable(): string {
  const rows = Object.values(SETTINGS).map(
    (x: Setting) => `| \`${x.env}\` | \`${x.default || '(empty)'}\` | ${x.scope} | ${x.doc} |`,
  );
  return ['| Variable | Default | Used by | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
