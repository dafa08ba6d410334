// The browser tests' Chromium: Debian's `chromium` package, driven by puppeteer-core (which
// downloads no browser). `.ci/run` installs the package when it is missing; VIGIL_CHROMIUM points
// elsewhere. Screenshots land in test-artifacts/ (not committed).
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium; a clear error when there is none. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set VIGIL_CHROMIUM`,
    );
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A full-page screenshot as test-artifacts/<folder>/<name>.png. */
export async function screenshot(page: Page, folder: string, name: string): Promise<void> {
  const dir = new URL(`../../test-artifacts/${folder}/`, import.meta.url);
  await fs.mkdir(dir, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, dir).pathname, fullPage: true });
}
