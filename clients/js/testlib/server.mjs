// Start the real AutoScorer server (Python) for the tests: 127.0.0.1, a free port,
// a temporary SQLite file, the in-process queue, API keys; stop it at the end.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ADMIN_KEY = 'sk-js-admin';
export const READER_KEY = 'sk-js-reader';
export const GT = 'id,label\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n';
export const PRED = 'id,label\n1,a\n2,b\n3,b\n4,b\n5,a\n6,a\n'; // macro F1 = 2/3

const SLOW_SCORER = `
import time

from autoscorer.scorers.base import Param, ScoreOutput, Scorer
from autoscorer.scorers.registry import register_scorer


@register_scorer
class JsSlow(Scorer):
    name = "js_slow"
    version = "1.0.0"
    task_type = "custom"
    primary_metric = "done"
    parameters = {"seconds": Param("number", 1.0)}

    def evaluate(self, ctx):
        time.sleep(self.params["seconds"])
        return ScoreOutput(metrics={"done": 1.0})
`;

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function waitHealthy(url, child, logFile) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not healthy after 60 s:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
}

/**
 * Why the real server cannot start in this tree, or null when it can. Only the
 * absence of the API's job routes counts; any other failure to start is an error.
 */
export async function startServer() {
  const root = mkdtempSync(join(tmpdir(), 'autoscorer-js-'));
  const workspaces = join(root, 'ws');
  const scorers = join(root, 'scorers');
  mkdirSync(workspaces);
  mkdirSync(scorers);
  const scorerFile = join(scorers, 'js_slow.py');
  writeFileSync(scorerFile, SLOW_SCORER);
  const port = await freePort();
  const keys = [
    { name: 'admin', sha256: sha256(ADMIN_KEY), role: 'admin' },
    { name: 'reader', sha256: sha256(READER_KEY), role: 'reader' },
  ];
  const env = {
    ...process.env,
    AUTOSCORER_DATABASE_URL: `sqlite:///${join(root, 'db.sqlite')}`,
    AUTOSCORER_QUEUE: 'inprocess',
    AUTOSCORER_EXECUTOR: 'local',
    AUTOSCORER_WORKSPACE_ROOTS: workspaces,
    AUTOSCORER_SCORER_ROOTS: scorers,
    AUTOSCORER_API_KEYS: JSON.stringify(keys),
  };
  delete env.AUTOSCORER_CONFIG;
  const logFile = join(root, 'server.log');
  const python = process.env.PYTHON ?? 'python3';
  // uvicorn's factory mode on the app factory that `autoscorer serve` uses too
  const args = ['-m', 'uvicorn', 'autoscorer.api.main:app_from_env', '--factory',
    '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'];
  const child = spawn(python, args, { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk) => {
    log += chunk;
    writeFileSync(logFile, log);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await waitHealthy(url, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  const ws = (name, { pred = PRED, ...meta } = {}) => {
    const dir = join(workspaces, name);
    mkdirSync(join(dir, 'input'), { recursive: true });
    mkdirSync(join(dir, 'output'), { recursive: true });
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const fullMeta = { task_type: 'classification', scorer: 'classification_f1', ...meta };
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(fullMeta));
    writeFileSync(join(dir, 'input', 'gt.csv'), GT);
    if (pred !== null) writeFileSync(join(dir, 'output', 'pred.csv'), pred);
    return dir;
  };
  return { url, root, workspaces, scorerFile, ws, stop };
}
