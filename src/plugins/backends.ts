// The service's two backends, the game database and the replay storage, as
// decorators every route reaches. Opened by the caller (server.ts, or a test);
// given `close`, the app closes them with it when it closes.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { ReplayStorage } from '../storage/replay-storage.js'
import { checkOption, hasMethod } from './options.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    storage: ReplayStorage
  }
}

export interface BackendsOptions {
  db: Kysely<Database>
  storage: ReplayStorage
  /** Closes both (and whatever serves them); called when the app closes. */
  close?: () => Promise<void>
}

const NAME = 'replay-gate-backends'

async function backends (fastify: FastifyInstance, { db, storage, close }: BackendsOptions): Promise<void> {
  checkOption(NAME, 'db', hasMethod(db, 'selectFrom'), 'a Kysely instance')
  checkOption(NAME, 'storage', hasMethod(storage, 'presign'), 'a ReplayStorage')
  checkOption(NAME, 'close', close === undefined || typeof close === 'function', 'a function')
  fastify.decorate('db', db)
  fastify.decorate('storage', storage)
  if (close !== undefined) fastify.addHook('onClose', async function closeBackends () { await close() })
}

export default fp(backends, { name: NAME, fastify: '5.x' })
