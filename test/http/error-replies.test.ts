// The error handler maps a failed schema by the part of the request that
// failed it; the replay routes are tested through the app (their ids), this
// shows the other parts on a route of its own.
import Fastify from 'fastify'
import t from 'tap'
import errorReplies from '../../src/plugins/error-replies.js'

t.test('a schema failure outside the params is INVALID_REQUEST, not a bad game id', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(errorReplies)
  app.get('/search', { schema: { querystring: { type: 'object', properties: { page: { type: 'integer' } } } } }, async () => ({ ok: true }))
  const res = await app.inject('/search?page=two')
  t.equal(res.statusCode, 400)
  t.match(res.json(), { statusCode: 400, code: 'INVALID_REQUEST', error: 'Bad Request', message: /^The request is not valid: querystring\/page must be integer/ })
  t.equal((await app.inject('/search?page=2')).statusCode, 200)
})
