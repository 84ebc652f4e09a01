// The classes of database failure, from the shapes pg and the network give
// them (fakes of a pure function's input; the real failures are in
// test/routes/health.test.ts and test/faults/database.test.ts).
import t from 'tap'
import { classifyDatabaseError } from '../../src/db/database-errors.js'

t.test('SQLSTATE: set up wrong for this service, or failing for everyone', async (t) => {
  const server = (code: string, message: string): Error => Object.assign(new Error(message), { code })
  t.same(classifyDatabaseError(server('42P01', 'relation "games" does not exist')),
    { kind: 'misconfigured', detail: 'relation "games" does not exist (SQLSTATE 42P01): is the database migrated? Run `npm run db:migrate` with this DATABASE_URL' })
  t.match(classifyDatabaseError(server('42703', 'column "identity_size" does not exist')).detail, /\(SQLSTATE 42703\): is the database migrated\?/)
  t.same(classifyDatabaseError(server('42501', 'permission denied for table games')),
    { kind: 'misconfigured', detail: 'permission denied for table games (SQLSTATE 42501)' }, 'no rights: nothing to migrate')
  for (const code of ['28P01', '28000', '3D000', '42501', '42703']) t.equal(classifyDatabaseError(server(code, 'x')).kind, 'misconfigured', code)
  for (const code of ['57P01', '53300', '08006', '40001']) t.equal(classifyDatabaseError(server(code, 'x')).kind, 'unreachable', code)
  t.same(classifyDatabaseError(server('57P03', '')), { kind: 'unreachable', detail: 'Error (SQLSTATE 57P03)' }, 'no message: the error\'s own name')
})

t.test('the network and pg\'s time limits', async (t) => {
  t.same(classifyDatabaseError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })),
    { kind: 'unreachable', detail: 'connect ECONNREFUSED 127.0.0.1:5432 (ECONNREFUSED)' })
  // Every address of a name refused: an AggregateError without a message of its own.
  const both = new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })])
  t.same(classifyDatabaseError(both), { kind: 'unreachable', detail: 'ECONNREFUSED (ECONNREFUSED)' })
  t.same(classifyDatabaseError(new Error('timeout exceeded when trying to connect')), { kind: 'timeout', detail: 'timeout exceeded when trying to connect' })
  t.equal(classifyDatabaseError(new Error('Query read timeout')).kind, 'timeout')
  t.same(classifyDatabaseError(new Error('Connection terminated unexpectedly')), { kind: 'unreachable', detail: 'Connection terminated unexpectedly' })
  t.same(classifyDatabaseError('a string thrown'), { kind: 'unreachable', detail: 'a string thrown' })
})
