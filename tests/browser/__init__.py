"""Browser tests: real journeys in Debian's Chromium through Playwright."""
