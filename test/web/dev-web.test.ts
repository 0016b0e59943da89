// `npm run dev` serves the pages from web/ through Vite on the service's own port, with hot reload,
// and leaves the API alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

describe('the pages in development (WEB_DEV=true)', () => {
  let base = '';
  let close: () => Promise<void>;
  beforeAll(async () => {
    const { app } = await buildApp(testConfig({ webDev: true }));
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
  }, 60_000);
  afterAll(() => close?.());

  it('serves the fan and operator pages from source, with the hot-reload client and the CSP', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/@vite/client');
    expect(html).toContain('src/fan.tsx');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const module = await fetch(`${base}/src/fan.tsx`);
    expect(module.status).toBe(200);
    expect(module.headers.get('content-type')).toMatch(/javascript/);
    const admin = await fetch(`${base}/admin`);
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('src/admin.tsx');
  }, 60_000);

  it('leaves the API and unknown paths to the service', async () => {
    const api = await fetch(`${base}/api/v1/concerts`);
    expect(api.status).toBe(401);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('INVALID_TOKEN');
    const unknown = await fetch(`${base}/no/such/page`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });
});
