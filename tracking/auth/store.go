// Package auth is optional authentication and authorization for the tracking
// server, in the manner of MLflow's basic-auth app (`mlflow server --app-name
// basic-auth`): users with bcrypt password hashes, an admin created on first
// start, and per-experiment and per-registered-model permissions (READ, EDIT,
// MANAGE, NO_PERMISSIONS) where a resource's creator gets MANAGE. Requests carry
// HTTP basic credentials (MLFLOW_TRACKING_USERNAME/PASSWORD on clients).
//
// Users and permissions live in their own tables, prefixed housing_auth_, in a
// SQLite or PostgreSQL database (by default the backend store's); MLflow's
// tables are never touched. The tables are created only when auth is enabled.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite" // "sqlite" driver

	"github.com/mlops-lab/housing/tracking"
)

// Permission is what a user may do with one experiment or registered model,
// named as MLflow names them.
type Permission string

// The permissions, from least to most.
const (
	NoPermissions Permission = "NO_PERMISSIONS"
	Read          Permission = "READ"
	Edit          Permission = "EDIT"
	Manage        Permission = "MANAGE"
)

// rank orders permissions; an unknown one ranks as NO_PERMISSIONS.
func (p Permission) rank() int {
	switch p {
	case Read:
		return 1
	case Edit:
		return 2
	case Manage:
		return 3
	}
	return 0
}

// Allows reports whether p includes need.
func (p Permission) Allows(need Permission) bool { return p.rank() >= need.rank() }

// ParsePermission accepts one of the four names.
func ParsePermission(s string) (Permission, error) {
	switch p := Permission(s); p {
	case NoPermissions, Read, Edit, Manage:
		return p, nil
	}
	return "", tracking.Errorf(tracking.ErrInvalidParameterValue,
		"Invalid permission '%s'. Valid permissions are: ['READ', 'EDIT', 'MANAGE', 'NO_PERMISSIONS']", s)
}

// User is an account.
type User struct {
	ID       int64
	Username string
	IsAdmin  bool
}

// Store keeps users and permissions in SQL.
type Store struct {
	db       *sql.DB
	postgres bool
	cost     int
	// dummy is a hash checked when a user name is unknown, so that the time an
	// answer takes does not tell which names exist.
	dummy []byte
	// verified remembers credentials that matched, so that a client's every
	// request does not cost a bcrypt comparison (~50 ms at the default cost).
	verified *credentialCache
}

// credentialCache maps a keyed hash of a user name and password that matched to
// the password hash they matched. An entry counts only while the user's row
// still holds that hash (read on every request), so a changed password or a
// deleted user stops the old credentials at once, on every replica. Passwords
// are never kept: the key of the hash is random per process. Failed attempts are
// not remembered, so guessing keeps its bcrypt cost.
type credentialCache struct {
	key []byte
	mu  sync.Mutex
	m   map[[sha256.Size]byte]string
}

// maxVerified bounds the cache; when full it starts over.
const maxVerified = 4096

func newCredentialCache() *credentialCache {
	return &credentialCache{key: []byte(rand.Text()), m: map[[sha256.Size]byte]string{}}
}

func (c *credentialCache) id(username, password string) [sha256.Size]byte {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(username))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var id [sha256.Size]byte
	mac.Sum(id[:0])
	return id
}

// matched reports whether these credentials matched hash before.
func (c *credentialCache) matched(id [sha256.Size]byte, hash string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id] == hash
}

func (c *credentialCache) remember(id [sha256.Size]byte, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerified {
		clear(c.m)
	}
	c.m[id] = hash
}

// Options configures a Store.
type Options struct {
	// BcryptCost is the cost of new password hashes; 0 means bcrypt.DefaultCost.
	BcryptCost int
}

// Open opens the auth tables in the database at uri (sqlite:///path or
// postgresql://...), creating them if needed.
func Open(ctx context.Context, uri string, opt Options) (*Store, error) {
	driver, dsn, postgres, err := dataSource(uri)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("auth: open %s: %w", redact(uri), err)
	}
	if !postgres {
		db.SetMaxOpenConns(1) // one writer; the tables are small
	}
	s := &Store{db: db, postgres: postgres, cost: opt.BcryptCost, verified: newCredentialCache()}
	if s.cost == 0 {
		s.cost = bcrypt.DefaultCost
	}
	if s.dummy, err = bcrypt.GenerateFromPassword([]byte(rand.Text()), s.cost); err != nil {
		db.Close()
		return nil, fmt.Errorf("auth: hash: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func dataSource(uri string) (driver, dsn string, postgres bool, err error) {
	switch {
	case strings.HasPrefix(uri, "sqlite:///"):
		return "sqlite", "file:" + strings.TrimPrefix(uri, "sqlite:///") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate", false, nil
	case strings.HasPrefix(uri, "postgresql://"), strings.HasPrefix(uri, "postgres://"):
		return "pgx", uri, true, nil
	case strings.HasPrefix(uri, "postgresql+"):
		_, rest, _ := strings.Cut(uri, "://")
		return "pgx", "postgresql://" + rest, true, nil
	}
	return "", "", false, fmt.Errorf("auth: database URI %s: want sqlite:///path or postgresql://...", redact(uri))
}

func redact(uri string) string {
	if u, err := url.Parse(uri); err == nil && u.User != nil {
		return u.Redacted()
	}
	return uri
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	id := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.postgres {
		id = "BIGSERIAL PRIMARY KEY"
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS housing_auth_users (id ` + id + `, username VARCHAR(255) NOT NULL UNIQUE,
			password_hash VARCHAR(255) NOT NULL, is_admin BOOLEAN NOT NULL DEFAULT FALSE)`,
		`CREATE TABLE IF NOT EXISTS housing_auth_experiment_permissions (experiment_id VARCHAR(32) NOT NULL,
			user_id BIGINT NOT NULL REFERENCES housing_auth_users(id) ON DELETE CASCADE, permission VARCHAR(32) NOT NULL,
			PRIMARY KEY (experiment_id, user_id))`,
		`CREATE TABLE IF NOT EXISTS housing_auth_registered_model_permissions (name VARCHAR(256) NOT NULL,
			user_id BIGINT NOT NULL REFERENCES housing_auth_users(id) ON DELETE CASCADE, permission VARCHAR(32) NOT NULL,
			PRIMARY KEY (name, user_id))`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("auth: create tables: %w", err)
		}
	}
	return nil
}

// q rewrites ? placeholders as $n for PostgreSQL.
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// CreateUser adds a user; RESOURCE_ALREADY_EXISTS when the name is taken.
func (s *Store) CreateUser(ctx context.Context, username, password string, admin bool) (*User, error) {
	if username == "" || password == "" {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "A user needs a username and a password")
	}
	if len(password) > 72 {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "Passwords are at most 72 bytes (bcrypt)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash password: %w", err)
	}
	if u, err := s.user(ctx, username); err == nil && u != nil {
		return nil, tracking.Errorf(tracking.ErrResourceAlreadyExists, "User '%s' already exists", username)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO housing_auth_users (username, password_hash, is_admin) VALUES (?, ?, ?)`),
		username, string(hash), admin); err != nil {
		return nil, fmt.Errorf("auth: create user %s: %w", username, err)
	}
	return s.user(ctx, username)
}

// EnsureAdmin creates the admin user when no user exists yet, and returns
// whether it did. With users present it changes nothing.
func (s *Store) EnsureAdmin(ctx context.Context, username, password string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM housing_auth_users`).Scan(&n); err != nil {
		return false, fmt.Errorf("auth: count users: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if password == "" {
		return false, fmt.Errorf("auth: no users yet: give the admin's password (--auth-admin-password or MLFLOW_AUTH_ADMIN_PASSWORD)")
	}
	_, err := s.CreateUser(ctx, username, password, true)
	return err == nil, err
}

func (s *Store) user(ctx context.Context, username string) (*User, error) {
	u := &User{Username: username}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, is_admin FROM housing_auth_users WHERE username = ?`), username).Scan(&u.ID, &u.IsAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tracking.Errorf(tracking.ErrResourceDoesNotExist, "User '%s' not found", username)
	}
	if err != nil {
		return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable, "auth: read user: %w", err)
	}
	return u, nil
}

// errBadCredentials is the one answer to a wrong name or password, so that
// neither can be told apart.
var errBadCredentials = tracking.Errorf(tracking.ErrUnauthenticated, "You are not authenticated. Please see the documentation for details on how to authenticate.")

// Authenticate returns the user whose name and password these are, or
// UNAUTHENTICATED.
func (s *Store) Authenticate(ctx context.Context, username, password string) (*User, error) {
	var u User
	var hash string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, username, password_hash, is_admin FROM housing_auth_users WHERE username = ?`), username).
		Scan(&u.ID, &u.Username, &hash, &u.IsAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable, "auth: read user: %w", err)
	}
	id := s.verified.id(username, password)
	if s.verified.matched(id, hash) {
		return &u, nil
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return nil, errBadCredentials
	}
	s.verified.remember(id, hash)
	return &u, nil
}

// resource names one of the two kinds of protected things.
type resource struct{ table, column string }

var (
	experiments = resource{"housing_auth_experiment_permissions", "experiment_id"}
	models      = resource{"housing_auth_registered_model_permissions", "name"}
)

func (s *Store) setPermission(ctx context.Context, r resource, key string, userID int64, p Permission) error {
	q := `INSERT INTO ` + r.table + ` (` + r.column + `, user_id, permission) VALUES (?, ?, ?)
		ON CONFLICT (` + r.column + `, user_id) DO UPDATE SET permission = excluded.permission`
	if _, err := s.db.ExecContext(ctx, s.q(q), key, userID, string(p)); err != nil {
		return fmt.Errorf("auth: set permission on %s: %w", key, err)
	}
	return nil
}

// permission returns the user's explicit permission on key, or def when none.
func (s *Store) permission(ctx context.Context, r resource, key string, userID int64, def Permission) (Permission, error) {
	var p string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT permission FROM `+r.table+` WHERE `+r.column+` = ? AND user_id = ?`), key, userID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	if err != nil {
		return "", tracking.Errorf(tracking.ErrTemporarilyUnavailable, "auth: read permission: %w", err)
	}
	return Permission(p), nil
}

// SetExperimentPermission grants username p on the experiment.
func (s *Store) SetExperimentPermission(ctx context.Context, experimentID, username string, p Permission) error {
	u, err := s.user(ctx, username)
	if err != nil {
		return err
	}
	return s.setPermission(ctx, experiments, experimentID, u.ID, p)
}

// SetRegisteredModelPermission grants username p on the registered model.
func (s *Store) SetRegisteredModelPermission(ctx context.Context, name, username string, p Permission) error {
	u, err := s.user(ctx, username)
	if err != nil {
		return err
	}
	return s.setPermission(ctx, models, name, u.ID, p)
}

// GetUser returns the user named username; RESOURCE_DOES_NOT_EXIST when there is none.
func (s *Store) GetUser(ctx context.Context, username string) (*User, error) {
	return s.user(ctx, username)
}

// UpdatePassword replaces the user's password; the old one stops working at once
// (a remembered match counts only against the hash it matched).
func (s *Store) UpdatePassword(ctx context.Context, username, password string) error {
	if password == "" || len(password) > 72 {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "A password is 1 to 72 bytes (bcrypt)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return fmt.Errorf("auth: hash password: %w", err)
	}
	return s.updateUser(ctx, username, `UPDATE housing_auth_users SET password_hash = ? WHERE username = ?`, string(hash))
}

// SetAdmin makes the user an administrator or takes that away; it refuses to
// take it from the last administrator, who alone can manage users.
func (s *Store) SetAdmin(ctx context.Context, username string, admin bool) error {
	if admin {
		return s.updateUser(ctx, username, `UPDATE housing_auth_users SET is_admin = ? WHERE username = ?`, admin)
	}
	u, err := s.user(ctx, username)
	if err != nil {
		return err
	}
	return s.keepingAnAdmin(ctx, u, "demote", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`UPDATE housing_auth_users SET is_admin = ? WHERE id = ?`), false, u.ID)
		return err
	})
}

// keepingAnAdmin runs change in a transaction, unless u is the last
// administrator: then it refuses. On PostgreSQL the administrators' rows stay
// locked until the change commits, so two administrators demoting or deleting
// each other at once cannot both succeed (SQLite runs one writer at a time).
func (s *Store) keepingAnAdmin(ctx context.Context, u *User, what string, change func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("auth: %s user %s: %w", what, u.Username, err)
	}
	defer tx.Rollback()
	if u.IsAdmin {
		lock := ""
		if s.postgres {
			lock = " FOR UPDATE"
		}
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT id FROM housing_auth_users WHERE is_admin`+lock+`) a`).Scan(&admins); err != nil {
			return fmt.Errorf("auth: %s user %s: count administrators: %w", what, u.Username, err)
		}
		if admins <= 1 {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"User '%s' is the last administrator: make another user an administrator first", u.Username)
		}
	}
	if err := change(tx); err != nil {
		return fmt.Errorf("auth: %s user %s: %w", what, u.Username, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("auth: %s user %s: %w", what, u.Username, err)
	}
	return nil
}

func (s *Store) updateUser(ctx context.Context, username, query string, value any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), value, username)
	if err != nil {
		return fmt.Errorf("auth: update user %s: %w", username, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return tracking.Errorf(tracking.ErrResourceDoesNotExist, "User '%s' not found", username)
	}
	return nil
}

// DeleteUser removes the user and every permission granted to them; it refuses
// to delete the last administrator.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	u, err := s.user(ctx, username)
	if err != nil {
		return err
	}
	return s.keepingAnAdmin(ctx, u, "delete", func(tx *sql.Tx) error {
		// Explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign_keys on.
		for _, q := range []string{
			`DELETE FROM ` + experiments.table + ` WHERE user_id = ?`,
			`DELETE FROM ` + models.table + ` WHERE user_id = ?`,
			`DELETE FROM housing_auth_users WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), u.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// grant is one row of a permission table.
type grant struct {
	key        string // experiment id or registered model name
	userID     int64
	permission Permission
}

// grants lists the user's explicit permissions on one kind of resource.
func (s *Store) grants(ctx context.Context, r resource, userID int64) ([]grant, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+r.column+`, permission FROM `+r.table+` WHERE user_id = ? ORDER BY `+r.column), userID)
	if err != nil {
		return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable, "auth: list permissions: %w", err)
	}
	defer rows.Close()
	var out []grant
	for rows.Next() {
		g := grant{userID: userID}
		var p string
		if err := rows.Scan(&g.key, &p); err != nil {
			return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable, "auth: list permissions: %w", err)
		}
		g.permission = Permission(p)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable, "auth: list permissions: %w", err)
	}
	return out, nil
}

// describe names a permission row in messages, as MLflow's store does.
func (r resource) describe(key, username string) string {
	if r == experiments {
		return fmt.Sprintf("Experiment permission with experiment_id=%s and username=%s", key, username)
	}
	return fmt.Sprintf("Registered model permission with name=%s and username=%s", key, username)
}

// createPermission adds a grant; RESOURCE_ALREADY_EXISTS when the user has one on key.
func (s *Store) createPermission(ctx context.Context, r resource, key, username string, p Permission) (*grant, error) {
	u, err := s.user(ctx, username)
	if err != nil {
		return nil, err
	}
	if _, err := s.getPermission(ctx, r, key, u); err == nil {
		return nil, tracking.Errorf(tracking.ErrResourceAlreadyExists, "%s already exists", r.describe(key, username))
	} else if !tracking.IsNotFound(err) {
		return nil, err
	}
	if err := s.setPermission(ctx, r, key, u.ID, p); err != nil {
		return nil, err
	}
	return &grant{key: key, userID: u.ID, permission: p}, nil
}

// getPermission returns the user's explicit grant on key; RESOURCE_DOES_NOT_EXIST when none.
func (s *Store) getPermission(ctx context.Context, r resource, key string, u *User) (*grant, error) {
	p, err := s.permission(ctx, r, key, u.ID, "")
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, tracking.Errorf(tracking.ErrResourceDoesNotExist, "%s not found", r.describe(key, u.Username))
	}
	return &grant{key: key, userID: u.ID, permission: p}, nil
}

// updatePermission changes an existing grant; RESOURCE_DOES_NOT_EXIST when there is none.
func (s *Store) updatePermission(ctx context.Context, r resource, key, username string, p Permission) error {
	u, err := s.user(ctx, username)
	if err != nil {
		return err
	}
	if _, err := s.getPermission(ctx, r, key, u); err != nil {
		return err
	}
	return s.setPermission(ctx, r, key, u.ID, p)
}

// deletePermission removes a grant; RESOURCE_DOES_NOT_EXIST when there is none.
func (s *Store) deletePermission(ctx context.Context, r resource, key, username string) error {
	u, err := s.user(ctx, username)
	if err != nil {
		return err
	}
	if _, err := s.getPermission(ctx, r, key, u); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM `+r.table+` WHERE `+r.column+` = ? AND user_id = ?`), key, u.ID); err != nil {
		return fmt.Errorf("auth: delete permission on %s: %w", key, err)
	}
	return nil
}

// renameModelPermissions moves every grant on a registered model to its new name.
func (s *Store) renameModelPermissions(ctx context.Context, name, newName string) error {
	if err := s.dropModelPermissions(ctx, newName); err != nil { // stale grants on a name no model had
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE `+models.table+` SET name = ? WHERE name = ?`), newName, name); err != nil {
		return fmt.Errorf("auth: rename permissions of model %s: %w", name, err)
	}
	return nil
}

// dropModelPermissions removes every grant on a registered model, so that a new
// model under the same name starts without them.
func (s *Store) dropModelPermissions(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM `+models.table+` WHERE name = ?`), name); err != nil {
		return fmt.Errorf("auth: drop permissions of model %s: %w", name, err)
	}
	return nil
}
