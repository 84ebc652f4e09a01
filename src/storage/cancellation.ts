// The signal that ends an S3 read when its client goes away or its deadline
// passes. It has AbortSignal's shape (aborted, reason, throwIfAborted, 'abort'
// listeners, and onabort for the SDK) but is not one: on Node 20, V8's young
// collections keep every AbortSignal alive until a full collection, and with
// it everything it reaches, its listeners and the download they close over.
// With two signals per download (the client's and the deadline's), each
// download's listeners, and the objects they reached, moved to the old
// generation and waited there for a full collection.
import type { EventEmitter } from 'node:events'

/** What a read needs of a signal; an AbortSignal has it too. */
export interface ReadSignal {
  readonly aborted: boolean
  readonly reason: unknown
  throwIfAborted: () => void
  addEventListener: (type: 'abort', listener: () => void, options?: { once?: boolean }) => void
  removeEventListener: (type: 'abort', listener: () => void) => void
}

export class Cancellation extends EventTarget implements ReadSignal {
  aborted = false
  reason: unknown = undefined
  /** Set by the SDK where it does not use addEventListener. */
  onabort: ((event: Event) => void) | null = null

  /** Like AbortController.abort: once, with an AbortError unless a reason is given. */
  abort (reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const event = new Event('abort')
    this.onabort?.(event)
    this.dispatchEvent(event)
  }

  throwIfAborted (): void {
    if (this.aborted) throw this.reason
  }
}

/** Aborted when `request` (the client's request) closes: the client went away, or its answer is done. */
export function closedWith (request: Pick<EventEmitter, 'once'>): Cancellation {
  const closed = new Cancellation()
  request.once('close', () => { closed.abort() })
  return closed
}
