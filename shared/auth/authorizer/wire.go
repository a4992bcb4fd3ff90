package authorizer

import (
	"log/slog"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authcache"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
)

// FromConfig builds the handler cfg describes (cfg as validated by config.Load). db serves the
// keys table or the validation cache; hc carries auth-service calls (nil: a client of its own)
// and, built once per container, keeps its connections across invocations.
func FromConfig(cfg Config, db authcache.DynamoDBAPI, hc *http.Client, log *slog.Logger) *Handler {
	s := Settings{
		AllowedEnvs:  cfg.AllowedKeyPrefixes,
		TTL:          cfg.CacheTTL,
		NegativeTTL:  cfg.NegativeCacheTTL,
		Grace:        cfg.StaleGrace,
		OutageWindow: cfg.OutageWindow,
		MaxEntries:   cfg.CacheMaxEntries,
		ServiceID:    cfg.ServiceID,
		Log:          log,
	}
	var v *Validator
	switch cfg.Source {
	case keystore.SourceExternal:
		service := authservice.New(cfg.ServiceURL, cfg.ServiceID, cfg.ServiceTimeout, hc)
		v = NewExternal(s, service, authcache.NewTable(db, cfg.ValidationCacheTable, cfg.StaleGrace))
	default:
		v = NewDynamoDB(s, NewKeysTable(db, cfg.KeysTable))
	}
	return NewHandler(v, log)
}
