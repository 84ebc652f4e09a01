// The storage reports each request it sends to S3; the metrics count them.
// Imports nothing, so neither side leans on the other.

/**
 * One request sent to S3: the operation (the SDK command's name without
 * "Command": GetObject, HeadObject), whether S3 answered it with a 2xx, and
 * the seconds until its answer's headers were read.
 */
export type S3RequestObserver = (operation: string, outcome: 'ok' | 'error', seconds: number) => void
