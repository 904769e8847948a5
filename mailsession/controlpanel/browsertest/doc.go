// Package browsertest drives the Mail page (mailsession/controlpanel) in
// Debian's headless Chromium through the DevTools protocol (chromedp): fill
// the form, save, read the check report, reload, send a test message that
// the embedded mailtest server receives, and take screenshots.
//
// It is a module of its own so that the browser driver never becomes a
// dependency of the library. Run it with
//
//	cd mailsession/controlpanel/browsertest && go test ./...
//
// Chromium is /usr/bin/chromium (or $CHROMIUM). Without it the test skips,
// except in CI (CI=true), where it fails. Set BROWSERTEST_SCREENSHOTS to a
// directory to keep the screenshots, which otherwise live in the test's
// temporary directory.
package browsertest
