// nginx in front of the same S3, as an operator would proxy it: Debian's
// package, its own config in a temporary folder, proxy_pass with the
// presigned URL's path and query passed through.
import { spawn, spawnSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, onCleanup } from './support.js'

export interface Nginx {
  url: string
  /** The master process's; its workers are its children. */
  pid: number
  stop: () => Promise<void>
}

export function nginxBinary (): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx || ls /usr/sbin/nginx'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]
  return found === '' ? undefined : found
}

export async function startNginx (binary: string, upstream: string): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'replay-gate-bench-nginx-'))
  // Started as root, nginx's workers run as an unprivileged user: they must
  // be able to write the proxy's temporary files here.
  await chmod(dir, 0o755)
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, sub), { mode: 0o777 })
  const port = await freePort()
  await writeFile(join(dir, 'nginx.conf'), `
daemon off;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    location / {
      # The presigned URL signs the S3 host: nginx sends the upstream's host (its default).
      proxy_pass ${upstream};
      proxy_http_version 1.1;
    }
  }
}
`)
  const child = spawn(binary, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const stop = onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT')
    await exited
    await rm(dir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await fetch(url)
      break
    } catch {}
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop()
      throw new Error('nginx did not start')
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    pid: child.pid as number,
    stop
  }
}
