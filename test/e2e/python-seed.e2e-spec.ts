// The seed tutorial's own Python Producer/Consumer (requests) run unchanged against the service.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeDir, startApp, type TestApp } from '../support/test-app';

const execFileAsync = promisify(execFile);
/** Debian's python3 carries python3-requests (.ci/run installs it); PYTHON overrides. */
const python = process.env.PYTHON ?? '/usr/bin/python3';

describe('the seed Python client', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.close();
    removeDir(t.dataDir);
  });

  it('runs the tutorial example end to end', async () => {
    const { stdout } = await execFileAsync(python, [join(__dirname, 'python/seed_example.py'), t.url], { encoding: 'utf8' });
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('Message sent with ID: 0');
    expect(lines).toContain('Message sent with ID: 9');
    for (let i = 0; i < 10; i++) {
      expect(lines).toContain(`Received message: Hello, Mini Kafka! - message ${i} (ID: ${i})`);
      expect(lines).toContain(`Acknowledged message ID: ${i}`);
    }
    expect(lines[lines.length - 1]).toBe('DONE');
  }, 60_000);
});
