// A throwaway Prometheus for the tools: checks configurations with promtool, runs the server on a free
// port with its own data directory, and asks its HTTP API. The binaries default to Debian's package
// (PROMETHEUS_BIN / PROMTOOL_BIN override them); what starts here is stopped by the scripts' clean-up.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findFreePorts, onCleanUp } from './service.js';

export const prometheusBin = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const promtoolBin = process.env.PROMTOOL_BIN ?? path.join(path.dirname(prometheusBin), 'promtool');

export function prometheusInstalled(): boolean {
  return existsSync(prometheusBin) && existsSync(promtoolBin);
}

/** `promtool check config <file>`; throws with promtool's own words when it refuses the file. */
export function checkConfig(file: string): void {
  const result = spawnSync(promtoolBin, ['check', 'config', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`promtool check config ${file} failed:\n${result.stdout}${result.stderr}`);
}

export interface ScrapeJob {
  job: string;
  targets: string[];
  /** A file holding the bearer key (nothing else), or undefined for open /metrics. */
  credentialsFile: string | undefined;
  intervalSeconds: number;
}

/** One scrape job as prometheus.yml text (quoted throughout: a path may hold any character). */
export function scrapeConfig({ job, targets, credentialsFile, intervalSeconds }: ScrapeJob): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    'global:',
    `  scrape_interval: ${intervalSeconds}s`,
    `  evaluation_interval: ${intervalSeconds}s`,
    'scrape_configs:',
    `  - job_name: ${q(job)}`,
    '    metrics_path: /metrics',
    ...(credentialsFile ? ['    authorization:', '      type: Bearer', `      credentials_file: ${q(credentialsFile)}`] : []),
    '    static_configs:',
    `      - targets: [${targets.map(q).join(', ')}]`,
    '',
  ].join('\n');
}

export interface Target {
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export type QueryAnswer = { ok: true; resultType: string; series: Array<{ metric: Record<string, string>; value: number }> } | { ok: false; error: string };

export interface RunningPrometheus {
  url: string;
  targets(): Promise<Target[]>;
  /** Every target up and scraped at least `scrapes` times after `since` (epoch ms); throws at the timeout. */
  waitForScrapes(since: number, scrapes: number, intervalSeconds: number, timeoutMs?: number): Promise<void>;
  /** An instant query at the current time. */
  query(expr: string): Promise<QueryAnswer>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

async function getJson<T>(url: string): Promise<ApiAnswer<T>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as ApiAnswer<T>;
}

export async function startPrometheus(configFile: string, dataDir: string): Promise<RunningPrometheus> {
  const [port] = await findFreePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    prometheusBin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 100) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  onCleanUp(stop);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}) before it was ready:\n${output.join('').slice(-3000)}`);
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus was not ready within 30 s:\n${output.join('').slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  async function targets(): Promise<Target[]> {
    const answer = await getJson<{ activeTargets: Target[] }>(`${url}/api/v1/targets?state=active`);
    return answer.data?.activeTargets ?? [];
  }

  return {
    url,
    targets,

    async waitForScrapes(since, scrapes, intervalSeconds, timeoutMs = 60_000) {
      // Scraped once after `since`, then (scrapes - 1) intervals more.
      const due = since + (scrapes - 1) * intervalSeconds * 1000;
      const end = Date.now() + timeoutMs;
      for (;;) {
        const all = await targets();
        const ready = all.length > 0 && all.every((t) => t.health === 'up' && Date.parse(t.lastScrape) >= due);
        if (ready) return;
        if (Date.now() > end) {
          const state = all.map((t) => `${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join('\n  ');
          throw new Error(`prometheus did not scrape every target ${scrapes} times within ${timeoutMs / 1000} s:\n  ${state || 'no targets'}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },

    async query(expr) {
      const answer = await getJson<{ resultType: string; result: unknown }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (answer.status !== 'success' || !answer.data) return { ok: false, error: `${answer.errorType ?? 'error'}: ${answer.error ?? 'no data'}` };
      const { resultType, result } = answer.data;
      // A scalar or string answers one [time, value] pair; a vector or matrix a list of series.
      if (resultType === 'scalar' || resultType === 'string') {
        const [, value] = result as [number, string];
        return { ok: true, resultType, series: [{ metric: {}, value: Number(value) }] };
      }
      const series = (result as Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }>).map((s) => ({
        metric: s.metric,
        value: Number(s.value?.[1] ?? s.values?.at(-1)?.[1]),
      }));
      return { ok: true, resultType, series };
    },

    stop,
  };
}
