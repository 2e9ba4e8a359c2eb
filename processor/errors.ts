/**
 * The processor's reason codes: every record it could not read and every document Elasticsearch
 * refused goes to the dead-letter topic with one of them (and is counted in
 * `processor_dead_lettered_total{code}`). Operators branch on `code`, never on the reason text.
 */
export const PR_ERRORS = {
  PR_ERR_UNREADABLE: 'The Kafka record is not an enriched event (not JSON, or without event_id, event_type, timestamp or received_at)',
  PR_ERR_ES_EVENT_REJECTED: 'Elasticsearch refused the raw event document (mapping conflict, invalid value ...)',
  PR_ERR_ES_KPI_REJECTED: 'Elasticsearch refused a KPI window document',
  PR_ERR_ES_URL_STATS_REJECTED: 'Elasticsearch refused a URL x country document',
  PR_ERR_ES_SESSION_REJECTED: 'Elasticsearch refused a session document',
} as const;

export type ProcessorErrorCode = keyof typeof PR_ERRORS;
