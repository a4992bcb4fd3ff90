package uisession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is what Store needs of a DynamoDB client.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// SessionPKPrefix starts every session item's pk: the authorizer may read those items only.
const SessionPKPrefix = "SESSION#"

// Item key prefixes of the sessions table (partition key pk); the rest of pk is a Digest.
const (
	PK            = "pk"
	TTLAttr       = "ttl"
	sessionPK     = SessionPKPrefix
	linkPK        = "LINK#"
	ttlAfterSlack = time.Hour // DynamoDB deletes expired items late; expiry is checked on read
)

// Binding is what a session or a link stands for: a key, by its digest, and its user.
type Binding struct {
	KeyHash string    `dynamodbav:"key_hash"`
	UserID  string    `dynamodbav:"user_id"`
	Expires time.Time `dynamodbav:"expires_at,unixtime"`
}

type item struct {
	PK string `dynamodbav:"pk"`
	Binding
	TTL int64 `dynamodbav:"ttl"`
}

// Store keeps sessions and sign-in links in the sessions table, each under the digest of its
// secret part, with a TTL so DynamoDB removes what ended.
type Store struct {
	db   DynamoDBAPI
	name string
}

// NewStore uses the table called name.
func NewStore(db DynamoDBAPI, name string) *Store { return &Store{db: db, name: name} }

// PutLink stores a link token's binding.
func (s *Store) PutLink(ctx context.Context, token string, b Binding) error {
	return s.put(ctx, linkPK+Digest(token), b)
}

// PutSession stores a session's binding under its id.
func (s *Store) PutSession(ctx context.Context, id string, b Binding) error {
	return s.put(ctx, sessionPK+Digest(id), b)
}

func (s *Store) put(ctx context.Context, pk string, b Binding) error {
	av, err := attributevalue.MarshalMap(item{PK: pk, Binding: b, TTL: b.Expires.Add(ttlAfterSlack).Unix()})
	if err != nil {
		return fmt.Errorf("sessions table %s: encode item: %w", s.name, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.name), Item: av,
		// A random 256-bit name never collides; if it did, nobody's session is overwritten.
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if err != nil {
		return fmt.Errorf("sessions table %s: put item: %w", s.name, err)
	}
	return nil
}

// ConsumeLink deletes a link token and returns its binding, if it existed and had not expired at
// now. The delete is the consumption: of two requests racing with one token, DynamoDB returns the
// old item to one only.
func (s *Store) ConsumeLink(ctx context.Context, token string, now time.Time) (Binding, error) {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.name),
		Key:                 key(linkPK + Digest(token)),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ReturnValues:        types.ReturnValueAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		return Binding{}, ErrInvalid
	case err != nil:
		return Binding{}, fmt.Errorf("sessions table %s: delete link: %w", s.name, err)
	}
	return decode(out.Attributes, now, s.name)
}

// Session returns the binding of the session id, or ErrInvalid when it is unknown, ended or
// expired at now. The read is strongly consistent: a sign-out is seen by the next request.
func (s *Store) Session(ctx context.Context, id string, now time.Time) (Binding, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.name), Key: key(sessionPK + Digest(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Binding{}, fmt.Errorf("sessions table %s: get session: %w", s.name, err)
	}
	return decode(out.Item, now, s.name)
}

// EndSession deletes the session id; an unknown one is no error.
func (s *Store) EndSession(ctx context.Context, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.name), Key: key(sessionPK + Digest(id))})
	if err != nil {
		return fmt.Errorf("sessions table %s: delete session: %w", s.name, err)
	}
	return nil
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PK: &types.AttributeValueMemberS{Value: pk}}
}

func decode(av map[string]types.AttributeValue, now time.Time, table string) (Binding, error) {
	if len(av) == 0 {
		return Binding{}, ErrInvalid
	}
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return Binding{}, fmt.Errorf("sessions table %s: decode item: %w", table, err)
	}
	if it.KeyHash == "" || it.UserID == "" || !now.Before(it.Expires) {
		return Binding{}, ErrInvalid
	}
	return it.Binding, nil
}
