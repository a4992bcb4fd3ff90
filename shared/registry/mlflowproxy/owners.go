package mlflowproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Owners records who first created a model name or version: regstore.Store, the same owner items
// (keys and folding) the registration function claims (issue 10, item 1).
type Owners interface {
	ClaimOwner(ctx context.Context, pk, userID, modelName, version string, now time.Time) (string, error)
	// OwnerOf is pk's owner, "" when nobody owns it; it claims nothing.
	OwnerOf(ctx context.Context, pk string) (string, error)
}

// Ownership through the stock client. The SDK registers a version with MLflow's own client
// (registered-models/create, model-versions/create) and announces it afterwards; were the owner
// recorded only by the announcement, any other write key could announce the new version first
// and own it. So the proxy claims, on MLflow's success and before the client gets the answer,
// the name for whoever created the registered model, and the name and then the version for
// whoever created the version. The version is claimed only for the name's owner, as the
// registration function does: a version created under another user's name stays unowned, and
// its announcement decides (the name's owner, or an admin acting for them, may announce it).
// A claim that loses changes nothing; a store failure is logged and MLflow's answer still goes
// out, the announcement's own claim being the fallback. Every other route is untouched.

// ownedOperations are the MLflow endpoints whose success creates something a user owns.
var ownedOperations = map[string]bool{
	"registered-models/create": true,
	"model-versions/create":    true,
}

// ownedBodyLimit bounds how much of a create's answer is read to learn the name and version:
// MLflow's are a few kilobytes (a name, tags of at most a few kilobytes each, a description). A
// longer answer is relayed unread and claims nothing.
const ownedBodyLimit = 1 << 20

// claimTimeout bounds the owner claim (one conditional put, and one read when it loses), so a
// slow table delays a create's answer by at most this.
const claimTimeout = 2 * time.Second

// recordsOwner reports whether res answers a call whose success the proxy records an owner for.
func recordsOwner(ex *exchange, res *http.Response) bool {
	return ex.route.Service == ServiceTracking && ownedOperations[ex.route.Endpoint] &&
		res.Request.Method == http.MethodPost && res.StatusCode >= 200 && res.StatusCode < 300
}

// recordOwner claims what a create's successful answer (read whole by modifyResponse) created
// for the caller. It never fails the call.
func (h *Handler) recordOwner(ex *exchange, res *http.Response, body []byte) {
	ctx := res.Request.Context()
	log := logging.FromContext(ctx)
	name, version, err := created(ex.route.Endpoint, body, res.Header.Get("Content-Encoding"))
	if err != nil {
		log.Warn("owner not recorded: MLflow's answer to a create names nothing", "endpoint", ex.route.Endpoint, "cause", err)
		return
	}
	cctx, cancel, _ := afterAnswer(ctx, claimTimeout, outboxReserve)
	defer cancel()
	if err := claimCreated(cctx, h.owners, ex.caller, name, version, time.Now()); err != nil {
		// MLflow created it; the client gets MLflow's answer. The announcement claims it again.
		log.Error("owner not recorded for a model created through MLflow; its announcement will claim it",
			"model_name", name, "version", version, "user_id", ex.caller.UserID, "cause", err)
	}
}

// claimCreated makes caller the owner of what their create made: the model name for
// registered-models/create, and for model-versions/create (version set) the version, when the
// name is theirs. A version create never claims the name: the model existed already (MLflow
// refuses a version of a model it does not have), and claiming an unowned name there would hand
// MANAGE of a model that predates the registry to anyone its default or a grant lets add a
// version. Losing a claim is not an error: the earlier owner stays.
func claimCreated(ctx context.Context, owners Owners, caller principal.Principal, name, version string, now time.Time) error {
	if caller.UserID == "" {
		return errors.New("the caller has no user id")
	}
	log := logging.FromContext(ctx)
	if version == "" {
		owner, err := owners.ClaimOwner(ctx, regstore.ModelOwnerPK(name), caller.UserID, name, "", now)
		if errors.Is(err, regstore.ErrOwned) {
			log.Info("model created through MLflow is owned by another user; not claimed", "model_name", name,
				"owner", owner, "user_id", caller.UserID)
			return nil
		}
		return err
	}
	owner, err := owners.OwnerOf(ctx, regstore.ModelOwnerPK(name))
	if err != nil {
		return err
	}
	if owner != caller.UserID {
		log.Info("model version created through MLflow under a model that is not the caller's; not claimed",
			"model_name", name, "version", version, "owner", owner, "user_id", caller.UserID)
		return nil
	}
	owner, err = owners.ClaimOwner(ctx, regstore.VersionOwnerPK(name, version), caller.UserID, name, version, now)
	if errors.Is(err, regstore.ErrOwned) {
		log.Info("model version created through MLflow is owned by another user; not claimed", "model_name", name,
			"version", version, "owner", owner, "user_id", caller.UserID)
		return nil
	}
	return err
}

// created is the model name (and, for a version, its number) a create's answer names, as MLflow
// stored them: {"registered_model":{"name":…}} or {"model_version":{"name":…,"version":…}}. The
// answer, not the request, is read: it is MLflow's own reading of the request, so no spelling of
// the request (a duplicated key, a camelCase alias) can make the proxy claim another name than
// the one MLflow created.
func created(endpoint string, body []byte, encoding string) (name, version string, err error) {
	body, err = contentcoding.Decode(body, encoding, ownedBodyLimit)
	if err != nil {
		return "", "", err
	}
	var answer struct {
		RegisteredModel *struct {
			Name string `json:"name"`
		} `json:"registered_model"`
		ModelVersion *struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"model_version"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return "", "", fmt.Errorf("decode: %w", err)
	}
	switch {
	case endpoint == "registered-models/create" && answer.RegisteredModel != nil && answer.RegisteredModel.Name != "":
		return answer.RegisteredModel.Name, "", nil
	case endpoint == "model-versions/create" && answer.ModelVersion != nil && answer.ModelVersion.Name != "" &&
		validVersion(answer.ModelVersion.Version):
		return answer.ModelVersion.Name, answer.ModelVersion.Version, nil
	}
	return "", "", errors.New("no created name (and version)")
}

// validVersion: MLflow numbers versions 1, 2, …; an owner key holds them as those digits.
func validVersion(v string) bool {
	if v == "" || len(v) > 19 || v[0] == '0' {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// failedReader fails every read with err.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }

// joinedBody reads from Reader and closes Closer (MLflow's body).
type joinedBody struct {
	io.Reader
	io.Closer
}
