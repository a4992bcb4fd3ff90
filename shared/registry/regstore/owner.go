package regstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
)

// OwnerPrefix starts the keys of owner items: who first registered a model name or a version.
// The permission model reads the model names' owners (permstore), so the keys are its.
const OwnerPrefix = permstore.OwnerPrefix

// ErrOwned is a claim of a model name or version that another user owns (the one error of the
// kind, an experiment's owner claimed through permstore included).
var ErrOwned = permstore.ErrOwned

// Owner is who first registered a model name (Version "") or one version of it. Owner items never
// expire: a name stays its first registrant's for as long as MLflow may hold its versions.
type Owner struct {
	PK        string `dynamodbav:"pk"`
	UserID    string `dynamodbav:"user_id"`
	ModelName string `dynamodbav:"model_name"`
	Version   string `dynamodbav:"version,omitempty"`
	CreatedAt string `dynamodbav:"created_at"`
}

// ModelOwnerPK is the key of a model name's owner item. Names are case-folded: MLflow on a
// case-insensitive database (MySQL's default collations) reads "Model" and "model" as one
// registered model, so one user may not own the one and another the other.
// The key is permstore's: the permission model reads the owner of a model from this item.
func ModelOwnerPK(modelName string) string { return permstore.ModelOwnerPK(modelName) }

// VersionOwnerPK is the key of a version's owner item; the version (digits) comes first so that
// no model name can make two keys collide.
func VersionOwnerPK(modelName, version string) string {
	return OwnerPrefix + "VERSION#" + version + "#" + fold(modelName)
}

// fold is the one comparison of model names the gateway makes (the permission model's too).
func fold(s string) string { return permissions.FoldName(s) }

// ClaimOwner makes userID the owner of pk (a ModelOwnerPK or VersionOwnerPK) unless someone owns
// it already, with one conditional write, so of two users racing for a new name exactly one wins.
// It returns the owner's user id: userID when the claim holds or userID owned it already, another
// user's id (with ErrOwned) otherwise.
func (s *Store) ClaimOwner(ctx context.Context, pk, userID, modelName, version string, now time.Time) (string, error) {
	item, err := attributevalue.MarshalMap(Owner{
		PK: pk, UserID: userID, ModelName: modelName, Version: version, CreatedAt: now.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("claim owner: marshal: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": PKAttr},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return userID, nil
	}
	if !isConditionFailed(err) {
		return "", fmt.Errorf("claim owner of %s: %w", pk, err)
	}
	// Owner items are never deleted, so the one that failed the condition is still there.
	held, err := s.heldBy(ctx, pk, err)
	if err != nil {
		return "", fmt.Errorf("claim owner of %s: %w", pk, err)
	}
	if held == nil {
		return "", fmt.Errorf("claim owner of %s: %w", pk, ErrConflict)
	}
	var o Owner
	if err := attributevalue.UnmarshalMap(held, &o); err != nil {
		return "", fmt.Errorf("claim owner of %s: unmarshal: %w", pk, err)
	}
	if o.UserID != userID {
		return o.UserID, fmt.Errorf("claim owner of %s: %w", pk, ErrOwned)
	}
	return userID, nil
}

// OwnerOf is the owner of pk (a ModelOwnerPK or VersionOwnerPK), "" when nobody owns it, read
// consistently: a name claimed a moment ago, in another container, is owned.
func (s *Store) OwnerOf(ctx context.Context, pk string) (string, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(pk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("read owner of %s: %w", pk, err)
	}
	if len(out.Item) == 0 {
		return "", nil
	}
	var o Owner
	if err := attributevalue.UnmarshalMap(out.Item, &o); err != nil {
		return "", fmt.Errorf("read owner of %s: unmarshal: %w", pk, err)
	}
	return o.UserID, nil
}
