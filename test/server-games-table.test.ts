// The start against a platform's games table on the machine's PostgreSQL: a
// table or column that is wrong stops it, named; a right one serves.
import { sql } from 'kysely'
import t from 'tap'
import { createPostgresDatabase, MACHINE_POSTGRES, postgresMissing, requireRealPart } from './helper.js'
import { closedPort } from './support/silent-server.js'
import { spawnEntry } from './support/spawn-service.js'

const postgres = await postgresMissing(MACHINE_POSTGRES)
const skip = requireRealPart(t, 'the games table checks at start', postgres)

t.test('a games table or column that is wrong stops the start, named; a platform\'s view serves', { skip }, async (t) => {
  const { db, url } = await createPostgresDatabase(t, MACHINE_POSTGRES)
  await sql`create table matches (match_id bigint, match_uuid uuid, folder text, replay_name text)`.execute(db)
  await sql`insert into matches values (42, null, 'platform', '2024/05/match-42.json')`.execute(db)
  await sql`create schema platform`.execute(db)
  await sql`create view platform.games_v as select match_id, match_uuid, folder, replay_name from matches`.execute(db)
  const env = {
    PORT: '0',
    DATABASE_URL: url,
    DATABASE_TIMEOUT_MS: '2000',
    S3_BUCKET: 'replays',
    // Signing needs no S3 request: nothing listens there.
    S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    GAME_ID_COLUMN: 'match_id',
    GAME_FOLDER_COLUMN: 'folder',
    REPLAY_FILE_COLUMN: 'replay_name'
  }
  for (const [settings, said] of [
    [{ GAMES_TABLE: 'public.matchs' }, 'GAMES_TABLE public.matchs does not exist'],
    [{ GAMES_TABLE: 'platform.games_v', GAME_ID_COLUMN: 'match_uuid' }, 'GAME_ID_COLUMN match_uuid on platform.games_v is uuid; expected an integer or text column']
  ] as const) {
    const refused = spawnEntry('server.ts', { ...env, ...settings })
    t.same(await refused.exited, { code: 1, signal: null })
    t.equal(refused.stderr().trim().split('\n').at(-1), `replay-gate cannot start: ${said}`)
  }
  const service = spawnEntry('server.ts', { ...env, GAMES_TABLE: 'platform.games_v' })
  const [, base] = await service.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const res = await fetch(`${base as string}/games/42/replay`, { redirect: 'manual' })
  t.equal(res.status, 302)
  t.match(res.headers.get('location'), /^http:\/\/127\.0\.0\.1:\d+\/replays\/platform\/2024\/05\/match-42\.json\?/)
  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null })
})
