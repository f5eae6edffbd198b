// `npm run openapi`: boots the app with the logger off on a throwaway DATA_DIR, writes openapi.yaml, exits.
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../app.module';
import { buildOpenApiDocument } from '../openapi/document';
import { toYaml } from '../openapi/yaml';

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mk-openapi-'));
  try {
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), { logger: false });
    const out = resolve(process.argv[2] ?? 'openapi.yaml');
    writeFileSync(out, toYaml(buildOpenApiDocument(app)));
    await app.close();
    console.log(`wrote ${out}`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
