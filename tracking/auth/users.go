package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mlops-lab/housing/tracking"
)

// endpoint serves one user or permission route after Handler has authorized it.
type endpoint func(w http.ResponseWriter, r *http.Request, f reqFields) error

// endpoints maps "METHOD path" (under /api/2.0/mlflow) to the user and
// permission endpoints, with MLflow's parameters and answers.
func (h *handler) endpoints() map[string]endpoint {
	return map[string]endpoint{
		"POST users/create":                           h.createUser,
		"GET users/get":                               h.getUser,
		"PATCH users/update-password":                 h.updatePassword,
		"PATCH users/update-admin":                    h.updateAdmin,
		"DELETE users/delete":                         h.deleteUser,
		"POST experiments/permissions/create":         h.createPermission(experiments),
		"GET experiments/permissions/get":             h.getPermission(experiments),
		"PATCH experiments/permissions/update":        h.updatePermission(experiments),
		"DELETE experiments/permissions/delete":       h.deletePermission(experiments),
		"POST registered-models/permissions/create":   h.createPermission(models),
		"GET registered-models/permissions/get":       h.getPermission(models),
		"PATCH registered-models/permissions/update":  h.updatePermission(models),
		"DELETE registered-models/permissions/delete": h.deletePermission(models),
	}
}

// required returns the named parameters, or INVALID_PARAMETER_VALUE naming the
// first one missing, as MLflow's _get_request_param.
func (f reqFields) required(names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		if out[i] = f.str(n); out[i] == "" {
			return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Missing value for required parameter '%s'. See the API docs for more information about request parameters.", n)
		}
	}
	return out, nil
}

// grantJSON is a permission as MLflow's entities serialize it: experiment_id or
// name, user_id, permission.
func grantJSON(r resource, g grant) map[string]any {
	m := map[string]any{"user_id": g.userID, "permission": string(g.permission)}
	if r == experiments {
		m["experiment_id"] = g.key
	} else {
		m["name"] = g.key
	}
	return m
}

// userJSON is a user as MLflow's User.to_json: with the user's grants, and
// never the password hash.
func (h *handler) userJSON(ctx context.Context, u *User) (map[string]any, error) {
	out := map[string]any{"id": u.ID, "username": u.Username, "is_admin": u.IsAdmin}
	for _, r := range []struct {
		res  resource
		name string
	}{{experiments, "experiment_permissions"}, {models, "registered_model_permissions"}} {
		grants, err := h.s.grants(ctx, r.res, u.ID)
		if err != nil {
			return nil, err
		}
		list := make([]map[string]any, 0, len(grants))
		for _, g := range grants {
			list = append(list, grantJSON(r.res, g))
		}
		out[r.name] = list
	}
	return out, nil
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, f reqFields) error {
	p, err := f.required("username", "password")
	if err != nil {
		return err
	}
	u, err := h.s.CreateUser(r.Context(), p[0], p[1], false)
	if err != nil {
		return err
	}
	return h.writeUser(w, r, u)
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, f reqFields) error {
	p, err := f.required("username")
	if err != nil {
		return err
	}
	u, err := h.s.GetUser(r.Context(), p[0])
	if err != nil {
		return err
	}
	return h.writeUser(w, r, u)
}

func (h *handler) writeUser(w http.ResponseWriter, r *http.Request, u *User) error {
	j, err := h.userJSON(r.Context(), u)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"user": j})
}

func (h *handler) updatePassword(w http.ResponseWriter, r *http.Request, f reqFields) error {
	p, err := f.required("username", "password")
	if err != nil {
		return err
	}
	if err := h.s.UpdatePassword(r.Context(), p[0], p[1]); err != nil {
		return err
	}
	h.opt.Logger.InfoContext(r.Context(), "password changed", "username", p[0], "by", userName(r.Context()))
	return writeJSON(w, map[string]any{})
}

func (h *handler) updateAdmin(w http.ResponseWriter, r *http.Request, f reqFields) error {
	p, err := f.required("username")
	if err != nil {
		return err
	}
	admin, err := f.boolean("is_admin")
	if err != nil {
		return err
	}
	if err := h.s.SetAdmin(r.Context(), p[0], admin); err != nil {
		return err
	}
	h.opt.Logger.InfoContext(r.Context(), "admin flag changed", "username", p[0], "is_admin", admin, "by", userName(r.Context()))
	return writeJSON(w, map[string]any{})
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, f reqFields) error {
	p, err := f.required("username")
	if err != nil {
		return err
	}
	if err := h.s.DeleteUser(r.Context(), p[0]); err != nil {
		return err
	}
	h.opt.Logger.InfoContext(r.Context(), "user deleted", "username", p[0], "by", userName(r.Context()))
	return writeJSON(w, map[string]any{})
}

// boolean reads a JSON boolean, or "true"/"false" as a query string carries it.
func (f reqFields) boolean(name string) (bool, error) {
	raw, ok := f[name]
	if ok {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return b, nil
		}
		if b, err := strconv.ParseBool(f.str(name)); err == nil {
			return b, nil
		}
	}
	return false, tracking.Errorf(tracking.ErrInvalidParameterValue, "Parameter '%s' must be true or false", name)
}

// resourceKey is the parameter naming the resource of r's permissions.
func resourceKey(r resource) string {
	if r == experiments {
		return "experiment_id"
	}
	return "name"
}

// permissionField is the answer's field of one permission of r.
func permissionField(r resource) string {
	if r == experiments {
		return "experiment_permission"
	}
	return "registered_model_permission"
}

func (h *handler) createPermission(res resource) endpoint {
	return func(w http.ResponseWriter, r *http.Request, f reqFields) error {
		p, err := f.required(resourceKey(res), "username", "permission")
		if err != nil {
			return err
		}
		perm, err := ParsePermission(p[2])
		if err != nil {
			return err
		}
		g, err := h.s.createPermission(r.Context(), res, p[0], p[1], perm)
		if err != nil {
			return err
		}
		return writeJSON(w, map[string]any{permissionField(res): grantJSON(res, *g)})
	}
}

func (h *handler) getPermission(res resource) endpoint {
	return func(w http.ResponseWriter, r *http.Request, f reqFields) error {
		p, err := f.required(resourceKey(res), "username")
		if err != nil {
			return err
		}
		u, err := h.s.user(r.Context(), p[1])
		if err != nil {
			return err
		}
		g, err := h.s.getPermission(r.Context(), res, p[0], u)
		if err != nil {
			return err
		}
		return writeJSON(w, map[string]any{permissionField(res): grantJSON(res, *g)})
	}
}

func (h *handler) updatePermission(res resource) endpoint {
	return func(w http.ResponseWriter, r *http.Request, f reqFields) error {
		p, err := f.required(resourceKey(res), "username", "permission")
		if err != nil {
			return err
		}
		perm, err := ParsePermission(p[2])
		if err != nil {
			return err
		}
		if err := h.s.updatePermission(r.Context(), res, p[0], p[1], perm); err != nil {
			return err
		}
		return writeJSON(w, map[string]any{})
	}
}

func (h *handler) deletePermission(res resource) endpoint {
	return func(w http.ResponseWriter, r *http.Request, f reqFields) error {
		p, err := f.required(resourceKey(res), "username")
		if err != nil {
			return err
		}
		if err := h.s.deletePermission(r.Context(), res, p[0], p[1]); err != nil {
			return err
		}
		return writeJSON(w, map[string]any{})
	}
}

func userName(ctx context.Context) string {
	if u, ok := UserFrom(ctx); ok {
		return u.Username
	}
	return ""
}
