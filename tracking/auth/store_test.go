package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/auth"
)

func TestStoreOnBothDatabases(t *testing.T) {
	for _, b := range []struct {
		name string
		uri  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "auth.db") }},
		{"postgresql", func(t *testing.T) string { return testenv.PostgresURI(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			uri := b.uri(t)
			s, err := auth.Open(ctx, uri, auth.Options{BcryptCost: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.EnsureAdmin(ctx, "admin", ""); err == nil {
				t.Error("EnsureAdmin without a password on an empty database succeeded")
			}
			if _, err := s.EnsureAdmin(ctx, "admin", "pw"); err != nil {
				t.Fatal(err)
			}
			u, err := s.Authenticate(ctx, "admin", "pw")
			if err != nil || !u.IsAdmin {
				t.Fatalf("Authenticate admin: %+v, %v", u, err)
			}
			if _, err := s.Authenticate(ctx, "admin", "PW"); tracking.ErrorCodeOf(err) != tracking.ErrUnauthenticated {
				t.Errorf("wrong password: %v", err)
			}
			if _, err := s.CreateUser(ctx, "admin", "x", false); !tracking.IsAlreadyExists(err) {
				t.Errorf("duplicate user: %v", err)
			}
			if err := s.SetExperimentPermission(ctx, "1", "admin", auth.Edit); err != nil {
				t.Fatal(err)
			}
			if err := s.SetExperimentPermission(ctx, "1", "admin", auth.Read); err != nil {
				t.Fatalf("update permission: %v", err)
			}
			if err := s.SetRegisteredModelPermission(ctx, "m", "nobody", auth.Read); !tracking.IsNotFound(err) {
				t.Errorf("grant to an unknown user: %v", err)
			}
			// Reopening keeps users (the tables are created once).
			s2, err := auth.Open(ctx, uri, auth.Options{BcryptCost: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if _, err := s2.Authenticate(ctx, "admin", "pw"); err != nil {
				t.Errorf("after reopening: %v", err)
			}
		})
	}
}

func TestParsePermission(t *testing.T) {
	for _, p := range []string{"READ", "EDIT", "MANAGE", "NO_PERMISSIONS"} {
		if _, err := auth.ParsePermission(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := auth.ParsePermission("read"); tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
		t.Errorf("read: %v", err)
	}
	if !auth.Manage.Allows(auth.Edit) || auth.Read.Allows(auth.Edit) || auth.NoPermissions.Allows(auth.Read) {
		t.Error("permission order wrong")
	}
}

// bothDatabases runs fn on an auth store over SQLite and over PostgreSQL, with
// two Stores on the same database (two server replicas).
func bothDatabases(t *testing.T, fn func(t *testing.T, s, replica *auth.Store)) {
	for name, uri := range map[string]func(t *testing.T) string{
		"sqlite":     func(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "auth.db") },
		"postgresql": func(t *testing.T) string { return testenv.PostgresURI(t) },
	} {
		t.Run(name, func(t *testing.T) {
			u := uri(t)
			var stores [2]*auth.Store
			for i := range stores {
				s, err := auth.Open(t.Context(), u, auth.Options{BcryptCost: 4})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			if _, err := stores[0].EnsureAdmin(t.Context(), "admin", "admin-pw"); err != nil {
				t.Fatal(err)
			}
			fn(t, stores[0], stores[1])
		})
	}
}

// TestRememberedCredentialsFollowTheDatabase: credentials that matched are
// remembered (no bcrypt on the next request), yet a password change or a
// deleted user stops them at once, also on a replica that remembered them.
func TestRememberedCredentialsFollowTheDatabase(t *testing.T) {
	bothDatabases(t, func(t *testing.T, s, replica *auth.Store) {
		ctx := t.Context()
		if _, err := s.CreateUser(ctx, "carol", "old-pw", false); err != nil {
			t.Fatal(err)
		}
		accepts := func(st *auth.Store, password string, want bool) {
			t.Helper()
			for range 2 { // the second time from memory
				u, err := st.Authenticate(ctx, "carol", password)
				if got := err == nil && u.Username == "carol"; got != want {
					t.Fatalf("Authenticate(carol, %q) = %+v, %v; want accepted %v", password, u, err, want)
				}
			}
		}
		accepts(s, "old-pw", true)
		accepts(replica, "old-pw", true)
		accepts(s, "wrong", false)
		if err := s.UpdatePassword(ctx, "carol", "new-pw"); err != nil {
			t.Fatal(err)
		}
		accepts(s, "old-pw", false)
		accepts(replica, "old-pw", false)
		accepts(replica, "new-pw", true)
		if err := s.DeleteUser(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		accepts(replica, "new-pw", false)
	})
}

// TestLastAdministratorStays: the last administrator can be neither demoted nor
// deleted (nobody could manage users any more); with two, either can go, and
// two administrators demoting each other at once leave one.
func TestLastAdministratorStays(t *testing.T) {
	bothDatabases(t, func(t *testing.T, s, replica *auth.Store) {
		ctx := t.Context()
		lastAdmin := func(err error) {
			t.Helper()
			if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue || !strings.Contains(tracking.ErrorMessage(err), "last administrator") {
				t.Fatalf("got %v, want INVALID_PARAMETER_VALUE naming the last administrator", err)
			}
		}
		lastAdmin(s.SetAdmin(ctx, "admin", false))
		lastAdmin(s.DeleteUser(ctx, "admin"))
		if _, err := s.CreateUser(ctx, "dave", "pw", true); err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, st := range []*auth.Store{s, replica} {
				wg.Go(func() { errs[i] = st.SetAdmin(ctx, []string{"admin", "dave"}[i], false) })
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("round %d: demoting both administrators at once: %v, %v; want exactly one refused", round, errs[0], errs[1])
			}
			for _, err := range errs {
				if err != nil {
					lastAdmin(err)
				}
			}
			for _, name := range []string{"admin", "dave"} {
				if err := s.SetAdmin(ctx, name, true); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.DeleteUser(ctx, "dave"); err != nil {
			t.Fatalf("deleting one of two administrators: %v", err)
		}
		u, err := s.Authenticate(ctx, "admin", "admin-pw")
		if err != nil || !u.IsAdmin {
			t.Fatalf("the remaining administrator: %+v, %v", u, err)
		}
	})
}

// BenchmarkAuthenticate compares a request's credential check when it matched
// before (remembered) with one that never matches (bcrypt each time), at the
// default bcrypt cost.
func BenchmarkAuthenticate(b *testing.B) {
	s, err := auth.Open(b.Context(), "sqlite:///"+filepath.Join(b.TempDir(), "auth.db"), auth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.EnsureAdmin(b.Context(), "admin", "admin-pw"); err != nil {
		b.Fatal(err)
	}
	for name, password := range map[string]string{"remembered": "admin-pw", "wrong-password": "guess"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, err := s.Authenticate(b.Context(), "admin", password)
				if (err == nil) != (password == "admin-pw") {
					b.Fatal(err)
				}
			}
		})
	}
}
