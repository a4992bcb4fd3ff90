package regstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var (
	// ErrNotFound is a registration that is not stored.
	ErrNotFound = errors.New("registration not found")
	// ErrExists is a Create of a registration id that is stored already.
	ErrExists = errors.New("registration already exists")
	// ErrConflict is a conditional write that lost to a concurrent one, again and again, or an
	// idempotency record held by another request.
	ErrConflict = errors.New("concurrent update")
)

// DB is the part of the DynamoDB client the store uses; *dynamodb.Client satisfies it. These four
// actions are all the register and outbox functions are granted.
type DB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Store reads and writes registration and idempotency records. It is safe for concurrent use.
type Store struct {
	db    DB
	table string
}

// New returns a Store over table.
func New(db DB, table string) *Store { return &Store{db: db, table: table} }

// RegistrationPK is the partition key of a registration's record.
func RegistrationPK(registrationID string) string { return RegistrationPrefix + registrationID }

// maxErrorLength bounds last_error: enough to diagnose, never enough to bloat the item.
const maxErrorLength = 1000

// conditionRetries is how often MarkPublished and RecordFailure re-read and retry after losing a
// race with a concurrent writer of the same record.
const conditionRetries = 5

// Create stores a new registration record (ErrExists if its id is taken).
func (s *Store) Create(ctx context.Context, rec Registration) error {
	return s.put(ctx, rec, putCreate)
}

// Replace stores rec whether or not a record with its id exists.
func (s *Store) Replace(ctx context.Context, rec Registration) error {
	return s.put(ctx, rec, putReplace)
}

// ReplaceOwn stores rec unless a record with its id belongs to another user (ErrOwned): a user
// may repeat an announcement of theirs, never overwrite another's.
func (s *Store) ReplaceOwn(ctx context.Context, rec Registration) error {
	return s.put(ctx, rec, putReplaceOwn)
}

type putMode int

const (
	putCreate putMode = iota
	putReplace
	putReplaceOwn
)

func (s *Store) put(ctx context.Context, rec Registration, mode putMode) error {
	if rec.RegistrationID == "" {
		return errors.New("put registration: no registration_id")
	}
	rec.PK = RegistrationPK(rec.RegistrationID)
	syncOutbox(&rec, time.Now())
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return fmt.Errorf("put registration %s: marshal: %w", rec.RegistrationID, err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	switch mode {
	case putCreate:
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": PKAttr}
	case putReplaceOwn:
		in.ConditionExpression = aws.String("attribute_not_exists(#pk) OR #user = :user")
		in.ExpressionAttributeNames = map[string]string{"#pk": PKAttr, "#user": "user_id"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":user": str(rec.UserID)}
	}
	_, err = s.db.PutItem(ctx, in)
	switch {
	case isConditionFailed(err) && mode == putReplaceOwn:
		return fmt.Errorf("replace registration %s: %w", rec.RegistrationID, ErrOwned)
	case isConditionFailed(err):
		return fmt.Errorf("create registration %s: %w", rec.RegistrationID, ErrExists)
	case err != nil:
		return fmt.Errorf("put registration %s: %w", rec.RegistrationID, err)
	}
	return nil
}

// syncOutbox keeps the sparse index exact: outbox_status is set exactly while an event is pending.
func syncOutbox(rec *Registration, now time.Time) {
	if !slices.ContainsFunc(rec.Events, isPending) {
		rec.OutboxStatus, rec.NextAttemptAt = "", 0
		return
	}
	rec.OutboxStatus = OutboxPending
	if rec.NextAttemptAt == 0 {
		rec.NextAttemptAt = now.UnixMilli()
	}
}

func isPending(e Event) bool { return e.Status == EventPending }

// Get returns the registration record with id (ErrNotFound if there is none), read consistently.
func (s *Store) Get(ctx context.Context, registrationID string) (*Registration, error) {
	rec, err := s.getItem(ctx, RegistrationPK(registrationID))
	if err != nil {
		return nil, fmt.Errorf("get registration %s: %w", registrationID, err)
	}
	return rec, nil
}

// getItem reads the item with key pk, consistently, as a record owing events (a registration or
// a registry change: both carry events, created_at and the outbox attributes).
func (s *Store) getItem(ctx context.Context, pk string) (*Registration, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(pk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, ErrNotFound
	}
	var rec Registration
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return nil, fmt.Errorf("unmarshal: %w", err)
	}
	return &rec, nil
}

// ListPending returns up to limit records with events to publish whose next attempt is due at
// now, earliest first (the pending_events index; eventually consistent).
func (s *Store) ListPending(ctx context.Context, now time.Time, limit int) ([]Registration, error) {
	if limit <= 0 {
		return nil, nil
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		IndexName:              aws.String(OutboxIndex),
		KeyConditionExpression: aws.String("#st = :pending AND #next <= :now"),
		ExpressionAttributeNames: map[string]string{
			"#st": OutboxStatusAttr, "#next": NextAttemptAttr,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending": str(OutboxPending), ":now": num(now.UnixMilli()),
		},
		Limit: aws.Int32(int32(min(limit, 1000))),
	})
	var out []Registration
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list pending registrations: %w", err)
		}
		var recs []Registration
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &recs); err != nil {
			return nil, fmt.Errorf("list pending registrations: unmarshal: %w", err)
		}
		out = append(out, recs...)
	}
	return out[:min(len(out), limit)], nil
}

// MarkPublished records that the events with eventIDs went out; ids it does not hold pending are
// ignored. When no event is left pending, the record leaves the outbox index. Safe against
// concurrent writers (another outbox run, the handler): each update is conditioned on the events
// being as they were read, and retried on a fresh read when they were not.
func (s *Store) MarkPublished(ctx context.Context, registrationID string, eventIDs []string) error {
	return s.MarkPublishedItem(ctx, RegistrationPK(registrationID), eventIDs)
}

// MarkPublishedItem is MarkPublished of the item with key pk: a registration's (RegistrationPK)
// or a registry change's (ChangePK), the outbox's two kinds of items.
func (s *Store) MarkPublishedItem(ctx context.Context, pk string, eventIDs []string) error {
	return s.updateEvents(ctx, pk, "mark published", func(rec *Registration, u *update) bool {
		marked := 0
		for i, e := range rec.Events {
			if isPending(e) && slices.Contains(eventIDs, e.EventID) {
				u.set(fmt.Sprintf("#events[%d].#status", i), str(EventPublished))
				rec.Events[i].Status = EventPublished
				marked++
			}
		}
		if !slices.ContainsFunc(rec.Events, isPending) && rec.OutboxStatus != "" {
			u.remove("#outbox", "#next")
			return true
		}
		return marked > 0
	})
}

// RecordFailure records a failed attempt to publish the record's pending events: each one's
// attempts is incremented and its last_error set, and the record is due again at next.
func (s *Store) RecordFailure(ctx context.Context, registrationID, errMsg string, next time.Time) error {
	return s.RecordFailureItem(ctx, RegistrationPK(registrationID), errMsg, next)
}

// RecordFailureItem is RecordFailure of the item with key pk (MarkPublishedItem).
func (s *Store) RecordFailureItem(ctx context.Context, pk, errMsg string, next time.Time) error {
	if len(errMsg) > maxErrorLength {
		errMsg = strings.ToValidUTF8(errMsg[:maxErrorLength], "")
	}
	return s.updateEvents(ctx, pk, "record failure", func(rec *Registration, u *update) bool {
		if !slices.ContainsFunc(rec.Events, isPending) {
			return false
		}
		for i, e := range rec.Events {
			if isPending(e) {
				u.set(fmt.Sprintf("#events[%d].#attempts", i), num(int64(e.Attempts+1)))
				u.set(fmt.Sprintf("#events[%d].#lasterr", i), str(errMsg))
			}
		}
		u.set("#next", num(next.UnixMilli()))
		u.set("#outbox", str(OutboxPending))
		return true
	})
}

// updateEvents reads the record, lets change describe an update (false: nothing to write), and
// writes it on condition that the events are still as read, retrying when they are not.
func (s *Store) updateEvents(ctx context.Context, pk, what string, change func(*Registration, *update) bool) error {
	for range conditionRetries {
		rec, err := s.getItem(ctx, pk)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		u := newUpdate()
		u.guard(rec.Events)
		if !change(rec, u) {
			return nil
		}
		_, err = s.db.UpdateItem(ctx, u.input(s.table, pk))
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, pk, err)
		}
		return nil
	}
	return fmt.Errorf("%s %s: %w", what, pk, ErrConflict)
}

// update builds an UpdateItem whose condition pins the events list as it was read.
type update struct {
	sets, removes, conds []string
	names                map[string]string
	values               map[string]types.AttributeValue
}

func newUpdate() *update {
	return &update{
		names: map[string]string{
			"#pk": PKAttr, "#events": "events", "#status": "status", "#id": "event_id",
			"#attempts": "attempts", "#lasterr": "last_error", "#next": NextAttemptAttr, "#outbox": OutboxStatusAttr,
		},
		values: map[string]types.AttributeValue{},
	}
}

func (u *update) value(v types.AttributeValue) string {
	name := ":v" + strconv.Itoa(len(u.values))
	u.values[name] = v
	return name
}

func (u *update) set(path string, v types.AttributeValue) {
	u.sets = append(u.sets, path+" = "+u.value(v))
}

func (u *update) remove(paths ...string) { u.removes = append(u.removes, paths...) }

// guard conditions the update on the record existing with exactly these events, in this order,
// with these statuses: the decisions made from them (what to mark, whether any is left pending)
// stay true when the write lands.
func (u *update) guard(events []Event) {
	u.conds = append(u.conds, "attribute_exists(#pk)", "size(#events) = "+u.value(num(int64(len(events)))))
	for i, e := range events {
		u.conds = append(u.conds,
			fmt.Sprintf("#events[%d].#id = %s", i, u.value(str(e.EventID))),
			fmt.Sprintf("#events[%d].#status = %s", i, u.value(str(e.Status))))
	}
}

func (u *update) input(table, pk string) *dynamodb.UpdateItemInput {
	expr := ""
	if len(u.sets) > 0 {
		expr = "SET " + strings.Join(u.sets, ", ")
	}
	if len(u.removes) > 0 {
		expr += " REMOVE " + strings.Join(u.removes, ", ")
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key(pk),
		UpdateExpression:          aws.String(strings.TrimSpace(expr)),
		ConditionExpression:       aws.String(strings.Join(u.conds, " AND ")),
		ExpressionAttributeNames:  u.usedNames(expr),
		ExpressionAttributeValues: u.values,
	}
}

// usedNames keeps only the names the expressions use: DynamoDB rejects unused ones.
func (u *update) usedNames(expr string) map[string]string {
	all := expr + " " + strings.Join(u.conds, " ")
	out := map[string]string{}
	for k, v := range u.names {
		if strings.Contains(all, k) {
			out[k] = v
		}
	}
	return out
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PKAttr: str(pk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}
