package auth

import "context"

type userKey struct{}

// WithUser returns ctx carrying the authenticated user; Handler does this for
// every request it lets through, and Guard reads it.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user WithUser put in ctx.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
