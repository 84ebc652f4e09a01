// The service's log: pino as Fastify has it, one JSON line per event, with
// every secret scrubbed from the finished line. Signed URLs, SDK errors and
// request headers can carry a signature, a credential or a session token in
// many shapes and at any level; scrubbing the serialized line catches them
// wherever they are, including in messages and stack traces. With tracing on,
// each line a request writes names its trace and span (request-log.ts binds
// them to the request's logger), so that a log line leads to its trace.
import { isSpanContextValid, type SpanContext } from '@opentelemetry/api'
import type { FastifyServerOptions } from 'fastify'
import { pino } from 'pino'
import type { LogLevel } from '../config/index.js'

const REDACTED = '[REDACTED]'

const SECRETS: Array<[RegExp, string]> = [
  // Query parameters of a presigned URL, plain or percent-encoded.
  [/(X-Amz-(?:Signature|Credential|Security-Token)(?:=|%3D))[^&"\s\\]*/gi, `$1${REDACTED}`],
  // An Authorization header: "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…", or a bearer token.
  [/(?<![\w-])((?:Credential|Signature)=)[^,&\s"\\]+/g, `$1${REDACTED}`],
  [/((?:Bearer|Basic)\s+)[^\s"\\]+/gi, `$1${REDACTED}`],
  // A token or key in a URL's query (RFC 6750's access_token, API keys), plain or percent-encoded.
  [/([?&](?:access_token|id_token|refresh_token|token|api_?key|password)(?:=|%3D))[^&"\s\\#]*/gi, `$1${REDACTED}`],
  // JSON fields that hold a secret, whatever their value.
  [/("(?:authorization|cookie|x-amz-security-token|x-amz-signature|x-amz-credential|secretAccessKey|sessionToken|password)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${REDACTED}"`]
]

/** Every pattern above needs one of these words: a line without any (most lines) is left as it is at the cost of one search. */
const MAY_HOLD_A_SECRET = /x-amz-|credential=|signature=|bearer|basic|authorization|cookie|secretaccesskey|token|api_?key|password/i

/** Removes signatures, credentials and tokens from a log line. */
export function scrubSecrets (line: string): string {
  if (!MAY_HOLD_A_SECRET.test(line)) return line
  let scrubbed = line
  for (const [pattern, replacement] of SECRETS) scrubbed = scrubbed.replace(pattern, replacement)
  return scrubbed
}

export interface LogSink {
  write: (line: string) => unknown
}

/** A span's ids, in the fields OpenTelemetry's log data model names (as its pino instrumentation writes them); none for a span that is not valid. */
export function traceFields (context: SpanContext): Record<string, string> {
  if (!isSpanContextValid(context)) return {}
  return { trace_id: context.traceId, span_id: context.spanId, trace_flags: context.traceFlags.toString(16).padStart(2, '0') }
}

/** Lines are gathered up to this many characters before a write: under load, one write carries dozens of lines. */
const LOG_BATCH_CHARS = 8192
/** However few lines there are, none waits longer than this to be written. */
const LOG_FLUSH_MS = 100

/**
 * Standard output, in batches: lines are joined into one string until it
 * holds LOG_BATCH_CHARS, or for at most LOG_FLUSH_MS, then written with one
 * synchronous write (pino's SonicBoom, which also waits out a full pipe).
 * Written line by line, the log cost a system call per request; SonicBoom's
 * own batching (minLength) measures the whole batch's UTF-8 length again for
 * every line added, which under load cost more than the line itself. What is
 * still gathered is written when the process exits. `dest` is another file
 * descriptor or a file's path, for tests.
 */
export function standardOutput (dest: number | string = 1): LogSink & { flush: () => void } {
  const out = pino.destination({ dest, sync: true })
  let gathered = ''
  let timer: NodeJS.Timeout | undefined
  // Armed while lines are gathered: the timer, and the flush at exit.
  const flush = (): void => {
    clearTimeout(timer)
    timer = undefined
    process.off('exit', flush)
    const lines = gathered
    gathered = ''
    out.write(lines)
  }
  return {
    /** Writes what is gathered now (before a line written outside the log, such as the last one). */
    flush: () => { if (gathered !== '') flush() },
    write (line: string): void {
      if (timer === undefined) {
        timer = setTimeout(flush, LOG_FLUSH_MS).unref()
        process.on('exit', flush)
      }
      gathered += line
      if (gathered.length >= LOG_BATCH_CHARS) flush()
    }
  }
}

/** Fastify's logger settings: the level, and a stream that scrubs each line before `sink` (by default standard output) sees it. */
export function loggerOptions (level: LogLevel, sink: LogSink = standardOutput()): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    stream: { write: (line: string) => sink.write(scrubSecrets(line)) }
  }
}
