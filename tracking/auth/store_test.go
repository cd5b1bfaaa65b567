package auth_test

import (
	"context"
	"path/filepath"
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
