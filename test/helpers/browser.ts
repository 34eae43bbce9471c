// A real headless Chromium (Debian's, /usr/bin/chromium, installed by test/run.mjs) driven by
// playwright-core, whose own browser downloads can't reach this machine's closed network.
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launches Chromium headless, with the flags that keep it off a network it can't reach. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
