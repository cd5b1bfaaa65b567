package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// handleServerInfo answers MLflow 3's GET server-info as MLflow 3.11.1 does
// (through Flask's jsonify): the store's kind, "SqlStore" for a database and
// null for any other store (MLflow's answer for a REST store), and that
// workspaces are off, which they always are here.
func handleServerInfo(storeType string) endpoint {
	var kind any
	if storeType != "" {
		kind = storeType
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		return encodeFlask(w, map[string]any{"store_type": kind, "workspaces_enabled": false})
	}
}

// msgWorkspacesDisabled is MLflow 3.11.1's refusal of a workspace header when
// workspaces are not enabled.
const msgWorkspacesDisabled = "Workspace APIs are not available: workspaces are not enabled on this server"

// refuseWorkspaces answers every request that names a workspace (a
// X-MLflow-Workspace header that is not blank) as MLflow 3.11.1 does without
// --enable-workspaces: 500 FEATURE_DISABLED, whatever the path and whatever the
// workspace, "default" included; only server-info answers, so that a client
// can learn that workspaces are off. MLflow 3's client itself asks server-info
// first and refuses to send such requests (FEATURE_DISABLED, "Active workspace
// ... cannot be used"), so this is what other clients see. The body is compact,
// as MLflow's ASGI middleware writes it.
func refuseWorkspaces(h http.Handler) http.Handler {
	body, err := appendFlask(nil, map[string]any{"error_code": "FEATURE_DISABLED", "message": msgWorkspacesDisabled})
	if err != nil {
		panic(err) // two strings always encode
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSpace(r.Header.Get(wire.WorkspaceHeader)) == "" ||
			strings.HasSuffix(strings.TrimRight(r.URL.Path, "/"), "/mlflow/server-info") {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(tracking.HTTPStatus(tracking.ErrFeatureDisabled))
		_, _ = w.Write(body)
	})
}
