// The project's own files, found from wherever the module that asks sits.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { projectFile } from '../src/project-files.js'

t.test('from a module two folders down, the file beside the nearest package.json', async (t) => {
  const root = t.testdir({ 'package.json': '{}', dist: { chunks: { 'chunk.js': '' } }, localstack: { 'rules.json': '[]' } })
  const from = pathToFileURL(join(root, 'dist', 'chunks', 'chunk.js'))
  t.equal(projectFile('localstack/rules.json', from).href, pathToFileURL(join(root, 'localstack', 'rules.json')).href)
})

t.test('the nearest package.json wins over one further up', async (t) => {
  const root = t.testdir({ 'package.json': '{}', inner: { 'package.json': '{}', 'module.js': '' } })
  t.equal(projectFile('package.json', pathToFileURL(join(root, 'inner', 'module.js'))).href, pathToFileURL(join(root, 'inner', 'package.json')).href)
})

t.test('this project\'s own, by default', async (t) => {
  t.equal(projectFile('package.json').href, new URL('../package.json', import.meta.url).href)
})

t.test('no package.json above: an error that says from where it looked', async (t) => {
  // The file system's root has no package.json on a machine that runs the tests.
  t.throws(() => projectFile('package.json', 'file:///nonexistent-folder-of-replay-gate/m.js'), /no package.json in any folder above file:\/\/\/nonexistent-folder-of-replay-gate\/m\.js/)
})
