// The Grafana dashboard in deploy/ queries only metrics the service exports: every metric name in its
// panels' `expr` fields is read out of the PromQL and looked up in a real /metrics answer of a test
// app (a histogram's `_bucket`, `_sum` and `_count` resolve to the histogram).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { parseMetrics } from '../helpers/prometheus-text.js';

const dashboard: unknown = JSON.parse(readFileSync(new URL('../../deploy/grafana/boxoffice.json', import.meta.url), 'utf8'));

/** Every `expr` string anywhere in the dashboard (panels, rows, targets). */
function exprsOf(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(exprsOf);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => (key === 'expr' && typeof value === 'string' ? [value] : exprsOf(value)));
}

/** PromQL words that are not metric names: functions, aggregations, keywords. */
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'group',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'histogram_quantile',
  'avg_over_time',
  'max_over_time',
  'min_over_time',
  'sum_over_time',
  'count_over_time',
  'abs',
  'clamp_min',
  'clamp_max',
  'round',
  'vector',
  'scalar',
  'time',
  'label_replace',
  'absent',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The metric names one PromQL expression reads. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, regexes)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\$\{?\w+\}?/g, ''); // dashboard variables
  const words = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return words.filter((w) => !PROMQL_WORDS.has(w.toLowerCase()) && !/^\d/.test(w));
}

describe('deploy/grafana/boxoffice.json', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reads the metric names out of PromQL', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(boxoffice_http_request_duration_seconds_bucket{status=~"5.."}[1m])))')).toEqual([
      'boxoffice_http_request_duration_seconds_bucket',
    ]);
    expect(metricNames('max by (line) (boxoffice_queue_waiting) + on (line) boxoffice_queue_active')).toEqual([
      'boxoffice_queue_waiting',
      'boxoffice_queue_active',
    ]);
  });

  it('queries only metrics a real /metrics answer exports', async () => {
    const exprs = exprsOf(dashboard);
    expect(exprs.length).toBeGreaterThan(10);
    const names = [...new Set(exprs.flatMap(metricNames))];
    // The panels the dashboard promises are there.
    expect(names).toEqual(
      expect.arrayContaining([
        'boxoffice_queue_waiting',
        'boxoffice_queue_active',
        'boxoffice_queue_admitted_total',
        'boxoffice_queue_wait_seconds_bucket',
        'boxoffice_http_request_duration_seconds_bucket',
        'boxoffice_http_request_duration_seconds_count',
        'boxoffice_holds_total',
        'boxoffice_payments_total',
        'boxoffice_sse_streams',
        'boxoffice_db_pool_in_use',
        'boxoffice_db_pool_waiting',
        'boxoffice_redis_command_duration_seconds_bucket',
        'nodejs_eventloop_lag_p99_seconds',
      ]),
    );

    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    const { types } = parseMetrics(res.body);
    const missing = names.filter((name) => {
      if (types.has(name)) return false;
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
      return !(histogram && types.get(histogram) === 'histogram');
    });
    expect(missing).toEqual([]);
  });
});
