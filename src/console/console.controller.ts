// /console: the web console's static files (HTML, CSS, ES modules), served by the broker itself from an allowlist
// read once at start. Public like /docs: the page holds no data; its API calls carry the user's API key.
import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** Every file under assets/ (copied next to this file in dist by nest-cli's "assets"), keyed by name. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(join(dir, name)), type });
  }
  return assets;
}

@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  private readonly assets = loadAssets(join(__dirname, 'assets'));

  @Get()
  @Header('Cache-Control', 'no-cache')
  page(@Res() res: Response): void {
    this.send(res, 'index.html');
  }

  @Get(':file')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('file') file: string, @Res() res: Response): void {
    this.send(res, file);
  }

  private send(res: Response, name: string): void {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException(`No console file '${name}'`);
    res.setHeader('Content-Type', asset.type);
    res.send(asset.body);
  }
}
