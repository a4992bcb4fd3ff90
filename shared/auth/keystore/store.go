package keystore

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

// Table layout, as the stack defines it (infra/stack/data.go).
const (
	HashAttr  = "key_hash"
	UserIndex = "by_user"   // user_id, created_at; projects all attributes
	IDIndex   = "by_key_id" // key_id; projects all attributes
)

var (
	// ErrExists is a Create whose digest is already stored: the caller should mint another key.
	ErrExists = errors.New("key already exists")
	// ErrNotFound is a Revoke of a digest that is not stored.
	ErrNotFound = errors.New("key not found")
)

// DB is the part of the DynamoDB client the store uses; *dynamodb.Client satisfies it.
type DB interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store reads and writes Records in the keys table. It is safe for concurrent use.
type Store struct {
	db    DB
	table string
}

// New returns a Store over table.
func New(db DB, table string) *Store {
	return &Store{db: db, table: table}
}

// timeLayout is RFC 3339 in UTC with all nine fractional digits. The fixed width matters:
// created_at is the by_user sort key, compared as a string, and RFC3339Nano drops trailing zeros,
// so "…:05Z" would sort after "…:05.1Z".
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime is how the store writes every time.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// encodeOptions writes times in timeLayout and, unlike the default encoder, omits a zero time
// tagged omitempty (a time.Time is a struct, which the encoder otherwise never treats as empty):
// a key without expiry has no expires_at rather than one in year 1.
func encodeOptions(o *attributevalue.EncoderOptions) {
	o.OmitEmptyTime = true
	o.EncodeTime = func(t time.Time) (types.AttributeValue, error) {
		return &types.AttributeValueMemberS{Value: formatTime(t)}, nil
	}
}

// Create stores rec unless a record with its digest exists (ErrExists).
func (s *Store) Create(ctx context.Context, rec Record) error {
	if err := checkKeys(rec); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	item, err := attributevalue.MarshalMapWithOptions(rec, encodeOptions)
	if err != nil {
		return fmt.Errorf("create key %s: marshal: %w", rec.KeyID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#h)"),
		ExpressionAttributeNames: map[string]string{"#h": HashAttr},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("create key %s: %w", rec.KeyID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create key %s: %w", rec.KeyID, err)
	}
	return nil
}

// checkKeys rejects a record DynamoDB would refuse, or would keep out of an index, with a
// message that says which attribute is missing.
func checkKeys(rec Record) error {
	switch {
	case rec.KeyHash == "":
		return errors.New("record has no key_hash")
	case rec.KeyID == "":
		return errors.New("record has no key_id")
	case rec.UserID == "":
		return errors.New("record has no user_id")
	case rec.CreatedAt.IsZero():
		return errors.New("record has no created_at")
	}
	return nil
}

// Get returns the record stored under digest, or nil, nil when there is none. The read is
// strongly consistent so that a revocation is seen by the next lookup that reaches the table.
func (s *Store) Get(ctx context.Context, digest string) (*Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{HashAttr: &types.AttributeValueMemberS{Value: digest}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get key: %w", err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var rec Record
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return nil, fmt.Errorf("get key: unmarshal: %w", err)
	}
	return &rec, nil
}

// ByID returns the record with keyID, or nil, nil when there is none. The index is eventually
// consistent: a key created a moment ago may not be found yet.
func (s *Store) ByID(ctx context.Context, keyID string) (*Record, error) {
	if keyID == "" {
		return nil, nil // DynamoDB rejects an empty key value; no record has one
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IDIndex),
		KeyConditionExpression:    aws.String("key_id = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: keyID}},
	})
	// key_id is unique, so the first page that has an item has the only one.
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("find key %s: %w", keyID, err)
		}
		if len(page.Items) > 0 {
			var rec Record
			if err := attributevalue.UnmarshalMap(page.Items[0], &rec); err != nil {
				return nil, fmt.Errorf("find key %s: unmarshal: %w", keyID, err)
			}
			return &rec, nil
		}
	}
	return nil, nil
}

// ListByUser returns every record of userID, newest first.
func (s *Store) ListByUser(ctx context.Context, userID string) ([]Record, error) {
	if userID == "" {
		return nil, nil
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(UserIndex),
		KeyConditionExpression:    aws.String("user_id = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
		ScanIndexForward:          aws.Bool(false),
	})
	var recs []Record
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list keys of %s: %w", userID, err)
		}
		if recs, err = appendItems(recs, page.Items); err != nil {
			return nil, fmt.Errorf("list keys of %s: %w", userID, err)
		}
	}
	return recs, nil
}

// ListAll returns every record, in no particular order.
func (s *Store) ListAll(ctx context.Context) ([]Record, error) {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(s.table)})
	var recs []Record
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		if recs, err = appendItems(recs, page.Items); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
	}
	return recs, nil
}

func appendItems(recs []Record, items []map[string]types.AttributeValue) ([]Record, error) {
	page := make([]Record, 0, len(items))
	if err := attributevalue.UnmarshalListOfMaps(items, &page); err != nil {
		return nil, fmt.Errorf("unmarshal: %w", err)
	}
	return append(recs, page...), nil
}

// Revoke marks the key stored under keyHash revoked at at (ErrNotFound if there is none).
// Revoking twice is harmless and keeps the first revoked_at.
func (s *Store) Revoke(ctx context.Context, keyHash string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 map[string]types.AttributeValue{HashAttr: &types.AttributeValueMemberS{Value: keyHash}},
		ConditionExpression: aws.String("attribute_exists(#h)"),
		UpdateExpression:    aws.String("SET #s = :revoked, #r = if_not_exists(#r, :at)"),
		ExpressionAttributeNames: map[string]string{
			"#h": HashAttr, "#s": "status", "#r": "revoked_at",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":revoked": &types.AttributeValueMemberS{Value: StatusRevoked},
			":at":      &types.AttributeValueMemberS{Value: formatTime(at)},
		},
	})
	if isConditionFailed(err) {
		return fmt.Errorf("revoke key: %w", ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	return nil
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
