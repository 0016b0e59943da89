// Starts boxoffice: reads the config, builds the app, listens, and closes gracefully on SIGTERM/SIGINT.
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { listenFailure } from './startup-errors.js';

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`boxoffice: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const { app, demoUsers } = await buildApp(config);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenFailure(config, err) ?? err;
  }
  const lines = [
    `boxoffice listening on ${address}`,
    `  API docs:  ${address}/docs`,
    `  database:  ${config.databaseUrl ? 'PostgreSQL' : `embedded (${config.dataDir})`}`,
    `  queue:     ${config.redisUrl ? (config.redisCluster ? 'Redis Cluster' : 'Redis') : 'in-process (single instance)'}`,
  ];
  if (config.adminKey && !config.databaseUrl && config.seedDemo) lines.push(`  admin key: ${config.adminKey}`);
  if (demoUsers.length > 0) {
    lines.push('  demo users (POST /api/v1/queue/tokens with one of these userIds):');
    for (const u of demoUsers) lines.push(`    ${u.userId}  ${u.name}`);
  }
  console.log(lines.join('\n'));
}

main().catch((err) => {
  // Some settings fail only when used (DATA_DIR held by another process): still one line, no stack.
  if (err instanceof ConfigError) console.error(`boxoffice: ${err.message}`);
  else console.error('boxoffice failed to start:', err);
  process.exit(1);
});
