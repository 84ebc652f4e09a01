// The package ships no types; this covers what the emulator wrapper uses.
declare module '@20minutes/s3rver' {
  import type { AddressInfo } from 'node:net'
  interface S3rverOptions {
    address?: string
    port?: number
    silent?: boolean
    directory?: string
    vhostBuckets?: boolean
    resetOnClose?: boolean
    allowMismatchedSignatures?: boolean
    configureBuckets?: Array<{ name: string, configs?: Array<string | Buffer> }>
  }
  interface KoaContext {
    method: string
    path: string
    headers: Record<string, string | string[] | undefined>
    query: Record<string, string | string[] | undefined>
    mountPath?: string
    state: Record<string, unknown>
  }
  type Middleware = ((ctx: KoaContext, next: () => Promise<void>) => unknown) & { name: string }
  export default class S3rver {
    /** Koa's middleware stack (S3rver is a Koa application). */
    middleware: Middleware[]
    constructor (options?: S3rverOptions)
    run (): Promise<AddressInfo>
    close (): Promise<void>
  }
}
