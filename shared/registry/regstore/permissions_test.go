package regstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore/regstoretest"
)

// The permission model's owner of a registered model is the one the registry claims: the same
// item, under every spelling MySQL reads as the same name.
func TestPermissionsReadTheOwnersClaimed(t *testing.T) {
	db := dynamodb.NewFromConfig(testenv.AWS(t))
	table := fmt.Sprintf("registrations-%d", time.Now().UnixNano())
	if err := regstoretest.CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	if _, err := regstore.New(db, table).ClaimOwner(t.Context(), regstore.ModelOwnerPK("Sales-Model"), "u1", "Sales-Model", "", t0); err != nil {
		t.Fatal(err)
	}
	perms := permstore.New(db, table)
	for _, name := range []string{"Sales-Model", "SALES-model", "ſales-model"} {
		f, err := perms.Facts(t.Context(), permissions.Resource{Kind: permissions.RegisteredModel, ID: name})
		if err != nil || f.Owner != "u1" {
			t.Errorf("Facts(%s) = %+v, %v; want owner u1", name, f, err)
		}
	}
	if _, err := perms.ClaimExperimentOwner(t.Context(), "1", "u1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := perms.ClaimExperimentOwner(t.Context(), "1", "u2", t0); !errors.Is(err, regstore.ErrOwned) {
		t.Errorf("another user's claim of an experiment: %v, want ErrOwned", err)
	}
}
