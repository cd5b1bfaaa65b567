// Package testenv starts the real services that tests use — PostgreSQL 15 and a
// versitygw S3 server — on 127.0.0.1, once per test binary, and stops them when the
// test binary exits (the child dies with its parent through Pdeathsig, so even a
// killed test run leaves nothing listening).
//
// When a service's programs are missing, tests that ask for it are skipped, unless
// the environment sets HOUSING_REQUIRE_SERVICES=1 (CI does), in which case they fail:
// CI must never pass by skipping.
package testenv

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// RequireServices reports whether a missing service must fail the test rather than skip it.
func RequireServices() bool { return os.Getenv("HOUSING_REQUIRE_SERVICES") == "1" }

// Unavailable skips tb, or fails it when services are required, saying why.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireServices() {
		tb.Fatalf("required service unavailable (HOUSING_REQUIRE_SERVICES=1): %s", msg)
	}
	tb.Skipf("skipping: %s (set HOUSING_REQUIRE_SERVICES=1 to make this a failure)", msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
