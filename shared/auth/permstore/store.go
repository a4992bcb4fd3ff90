package permstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/backoff"
)

var (
	// ErrOwned is a claim of something another user owns.
	ErrOwned = errors.New("owned by another user")
	// ErrNotFound is a grant that is not stored.
	ErrNotFound = errors.New("grant not found")
	// ErrInvalid is a resource, user id or level the store does not keep.
	ErrInvalid = errors.New("invalid permission")
	// ErrConflict is a write that lost to concurrent writers again and again.
	ErrConflict = errors.New("concurrent update")
	// ErrTooMany is a pattern grant beyond MaxPatternGrants.
	ErrTooMany = errors.New("too many pattern grants")
)

// MaxPatternGrants bounds the pattern grants of a deployment: they are one item (DynamoDB's
// 400 KB) read with every resource's facts, so their number is the cost of every uncached check.
const MaxPatternGrants = 500

// maxIDLength bounds resource ids, names and user ids: DynamoDB keys hold 2048 bytes, MLflow
// names 256 characters.
const maxIDLength = 1024

// writeAttempts is how often a write that lost a race (or found a map not yet created) is tried.
const writeAttempts = 5

// unprocessedRetry is the pause before asking again for keys DynamoDB left unprocessed (it does
// so when throttled).
var unprocessedRetry = backoff.Exponential{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// DB is the part of the DynamoDB client the store uses; *dynamodb.Client satisfies it.
type DB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes owners and grants. It is safe for concurrent use.
type Store struct {
	db    DB
	table string
}

// New returns a Store over table (the registrations table).
func New(db DB, table string) *Store { return &Store{db: db, table: table} }

// ExperimentOwner is who created an experiment through the gateway. Owner items never expire.
type ExperimentOwner struct {
	PK           string `dynamodbav:"pk"`
	UserID       string `dynamodbav:"user_id"`
	ExperimentID string `dynamodbav:"experiment_id"`
	CreatedAt    string `dynamodbav:"created_at"`
}

// patternGrant is one entry of the patterns item.
type patternGrant struct {
	Kind   string `dynamodbav:"kind"`
	Glob   string `dynamodbav:"glob"`
	UserID string `dynamodbav:"user_id"`
	Level  string `dynamodbav:"level"`
}

// userGrant is one entry of a user's grants map: the resource as last granted, and the level.
type userGrant struct {
	Kind   string `dynamodbav:"kind"`
	Target string `dynamodbav:"target"`
	Level  string `dynamodbav:"level"`
}

// Facts returns r's owner ("" unowned) and the grants that apply to it: the user grants on it and
// the pattern grants whose pattern matches it. One BatchGetItem of the owner, grants and patterns
// items (asked again only for keys DynamoDB leaves unprocessed).
func (s *Store) Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error) {
	if err := checkResource(r); err != nil {
		return permissions.Facts{}, err
	}
	items, err := s.batchGet(ctx, OwnerPK(r), GrantsPK(r), PatternsPK)
	if err != nil {
		return permissions.Facts{}, fmt.Errorf("permissions of %s %q: %w", r.Kind, r.ID, err)
	}
	var f permissions.Facts
	if it := items[OwnerPK(r)]; it != nil {
		if err := attributevalue.Unmarshal(it[userIDAttr], &f.Owner); err != nil {
			return permissions.Facts{}, fmt.Errorf("owner of %s %q: %w", r.Kind, r.ID, err)
		}
	}
	if f.Grants, err = resourceGrants(r, items[GrantsPK(r)]); err != nil {
		return permissions.Facts{}, err
	}
	patterns, err := patternGrants(items[PatternsPK])
	if err != nil {
		return permissions.Facts{}, err
	}
	for _, g := range patterns {
		if (permissions.Pattern{Kind: g.Kind, Glob: g.Target}).Matches(r) {
			f.Grants = append(f.Grants, g)
		}
	}
	return f, nil
}

// batchGet reads the items of keys (at most 100, distinct) in one BatchGetItem; the result maps
// each found item's pk to it.
func (s *Store) batchGet(ctx context.Context, pks ...string) (map[string]map[string]types.AttributeValue, error) {
	keys := make([]map[string]types.AttributeValue, len(pks))
	for i, pk := range pks {
		keys[i] = key(pk)
	}
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys}}
	found := make(map[string]map[string]types.AttributeValue, len(pks))
	for attempt := 0; ; attempt++ {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("batch get: %w", err)
		}
		for _, it := range out.Responses[s.table] {
			var pk string
			if err := attributevalue.Unmarshal(it[PKAttr], &pk); err != nil {
				return nil, fmt.Errorf("batch get: item key: %w", err)
			}
			found[pk] = it
		}
		if len(out.UnprocessedKeys[s.table].Keys) == 0 {
			return found, nil
		}
		if attempt >= writeAttempts {
			return nil, fmt.Errorf("batch get: keys still unprocessed after %d attempts: %w", attempt+1, ErrConflict)
		}
		req = out.UnprocessedKeys
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff.EqualJitter(unprocessedRetry.Delay(attempt))):
		}
	}
}

// ClaimExperimentOwner makes userID the owner of the experiment unless someone owns it already,
// with one conditional write, so of two racing claims exactly one wins. It returns the owner:
// userID when the claim holds or they owned it already, another user's id (with ErrOwned)
// otherwise.
func (s *Store) ClaimExperimentOwner(ctx context.Context, experimentID, userID string, now time.Time) (string, error) {
	if err := checkResource(permissions.Resource{Kind: permissions.Experiment, ID: experimentID}); err != nil {
		return "", err
	}
	if err := checkUser(userID); err != nil {
		return "", err
	}
	pk := ExperimentOwnerPK(experimentID)
	item, err := attributevalue.MarshalMap(ExperimentOwner{
		PK: pk, UserID: userID, ExperimentID: experimentID, CreatedAt: now.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", fmt.Errorf("claim %s: marshal: %w", pk, err)
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
	var cf *types.ConditionalCheckFailedException
	if !errors.As(err, &cf) {
		return "", fmt.Errorf("claim %s: %w", pk, err)
	}
	held := cf.Item
	if len(held) == 0 { // DynamoDB Local and older servers omit the item; owner items are never deleted.
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return "", fmt.Errorf("claim %s: %w", pk, err)
		}
		held = out.Item
	}
	var o ExperimentOwner
	if err := attributevalue.UnmarshalMap(held, &o); err != nil || o.UserID == "" {
		return "", fmt.Errorf("claim %s: the owner item has no owner: %v", pk, err)
	}
	if o.UserID != userID {
		return o.UserID, fmt.Errorf("claim %s: %w", pk, ErrOwned)
	}
	return userID, nil
}

// SetGrant gives userID level on r, replacing their grant on it. The resource's grants item and
// the user's list change in one transaction, so the list MLflow's client shows never disagrees
// with what is enforced.
func (s *Store) SetGrant(ctx context.Context, r permissions.Resource, userID string, level permissions.Level) error {
	if err := checkGrant(r, userID, level); err != nil {
		return err
	}
	entry, err := attributevalue.Marshal(userGrant{Kind: string(r.Kind), Target: r.ID, Level: level.String()})
	if err != nil {
		return fmt.Errorf("set grant: marshal: %w", err)
	}
	return s.transactGrant(ctx, r, userID, "SET", map[string]types.AttributeValue{":l": str(level.String())},
		map[string]types.AttributeValue{":g": entry}, "attribute_exists(#g)")
}

// DeleteGrant removes userID's grant on r (ErrNotFound when there is none).
func (s *Store) DeleteGrant(ctx context.Context, r permissions.Resource, userID string) error {
	if err := checkResource(r); err != nil {
		return err
	}
	if err := checkUser(userID); err != nil {
		return err
	}
	return s.transactGrant(ctx, r, userID, "REMOVE", nil, nil, "attribute_exists(#g.#k)")
}

// transactGrant sets (op SET) or removes (op REMOVE) the entry of userID in r's grants map and of
// r in userID's grants map, in one transaction. The maps are made on first use: a document path
// into a missing map is an error in DynamoDB, so a SET that finds one missing creates both (an
// idempotent if_not_exists) and tries again.
func (s *Store) transactGrant(ctx context.Context, r permissions.Resource, userID, op string,
	resourceValues, userValues map[string]types.AttributeValue, condition string) error {
	update := func(pk, entry string, values map[string]types.AttributeValue, value string) *types.Update {
		expr := "REMOVE #g.#k"
		if op == "SET" {
			expr = "SET #g.#k = " + value
		}
		return &types.Update{
			TableName: aws.String(s.table), Key: key(pk), UpdateExpression: aws.String(expr),
			ConditionExpression:       aws.String(condition),
			ExpressionAttributeNames:  map[string]string{"#g": grantsAttr, "#k": entry},
			ExpressionAttributeValues: values,
		}
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: update(GrantsPK(r), userID, resourceValues, ":l")},
		{Update: update(UserGrantsPK(userID), userGrantKey(r), userValues, ":g")},
	}}
	for attempt := 0; attempt < writeAttempts; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		if err == nil {
			return nil
		}
		if !conditionFailed(err) {
			return fmt.Errorf("%s grant of %q on %s %q: %w", strings.ToLower(op), userID, r.Kind, r.ID, err)
		}
		if op == "REMOVE" {
			return fmt.Errorf("delete grant of %q on %s %q: %w", userID, r.Kind, r.ID, ErrNotFound)
		}
		for _, pk := range []string{GrantsPK(r), UserGrantsPK(userID)} {
			if err := s.ensureMap(ctx, pk); err != nil {
				return fmt.Errorf("set grant of %q on %s %q: %w", userID, r.Kind, r.ID, err)
			}
		}
	}
	return fmt.Errorf("set grant of %q on %s %q: %w", userID, r.Kind, r.ID, ErrConflict)
}

// ensureMap makes the grants map of item pk unless it exists.
func (s *Store) ensureMap(ctx context.Context, pk string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk),
		UpdateExpression:          aws.String("SET #g = if_not_exists(#g, :empty)"),
		ExpressionAttributeNames:  map[string]string{"#g": grantsAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}},
	})
	if err != nil {
		return fmt.Errorf("create the grants of %s: %w", pk, err)
	}
	return nil
}

// ListGrants returns the user grants on r, by user id.
func (s *Store) ListGrants(ctx context.Context, r permissions.Resource) ([]permissions.Grant, error) {
	if err := checkResource(r); err != nil {
		return nil, err
	}
	it, err := s.get(ctx, GrantsPK(r))
	if err != nil {
		return nil, fmt.Errorf("grants on %s %q: %w", r.Kind, r.ID, err)
	}
	return resourceGrants(r, it)
}

// GrantsOfUser returns every grant to userID: on resources (named as last granted; by kind and name)
// and pattern grants. One BatchGetItem of the user's list and the patterns item, so MLflow's
// list call never scans the table.
func (s *Store) GrantsOfUser(ctx context.Context, userID string) ([]permissions.Grant, error) {
	if err := checkUser(userID); err != nil {
		return nil, err
	}
	items, err := s.batchGet(ctx, UserGrantsPK(userID), PatternsPK)
	if err != nil {
		return nil, fmt.Errorf("grants of %q: %w", userID, err)
	}
	var entries map[string]userGrant
	if it := items[UserGrantsPK(userID)]; it != nil {
		if err := attributevalue.Unmarshal(it[grantsAttr], &entries); err != nil {
			return nil, fmt.Errorf("grants of %q: %w", userID, err)
		}
	}
	var out []permissions.Grant
	for _, e := range entries {
		g, err := grant(e.Kind, e.Target, false, userID, e.Level)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b permissions.Grant) int {
		return strings.Compare(string(a.Kind)+"#"+a.Target, string(b.Kind)+"#"+b.Target)
	})
	patterns, err := patternGrants(items[PatternsPK])
	if err != nil {
		return nil, err
	}
	for _, g := range patterns {
		if g.UserID == userID {
			out = append(out, g)
		}
	}
	return out, nil
}

// SetPatternGrant gives userID level on every resource p matches, replacing their grant on a
// pattern that folds to the same glob (it matches the same resources).
func (s *Store) SetPatternGrant(ctx context.Context, p permissions.Pattern, userID string, level permissions.Level) error {
	if err := checkPattern(p); err != nil {
		return err
	}
	if err := checkGrant(permissions.Resource{Kind: p.Kind, ID: "x"}, userID, level); err != nil {
		return err
	}
	return s.updatePatterns(ctx, func(gs []patternGrant) ([]patternGrant, error) {
		entry := patternGrant{Kind: string(p.Kind), Glob: p.Glob, UserID: userID, Level: level.String()}
		if i := slices.IndexFunc(gs, samePattern(p, userID)); i >= 0 {
			gs[i] = entry
			return gs, nil
		}
		if len(gs) >= MaxPatternGrants {
			return nil, fmt.Errorf("set pattern grant %s: %w (at most %d)", p, ErrTooMany, MaxPatternGrants)
		}
		return append(gs, entry), nil
	})
}

// DeletePatternGrant removes userID's grant on p (ErrNotFound when there is none).
func (s *Store) DeletePatternGrant(ctx context.Context, p permissions.Pattern, userID string) error {
	if err := checkPattern(p); err != nil {
		return err
	}
	if err := checkUser(userID); err != nil {
		return err
	}
	return s.updatePatterns(ctx, func(gs []patternGrant) ([]patternGrant, error) {
		i := slices.IndexFunc(gs, samePattern(p, userID))
		if i < 0 {
			return nil, fmt.Errorf("delete pattern grant %s of %q: %w", p, userID, ErrNotFound)
		}
		return slices.Delete(gs, i, i+1), nil
	})
}

// ListPatternGrants returns every pattern grant, in the order they were first made.
func (s *Store) ListPatternGrants(ctx context.Context) ([]permissions.Grant, error) {
	it, err := s.get(ctx, PatternsPK)
	if err != nil {
		return nil, fmt.Errorf("pattern grants: %w", err)
	}
	return patternGrants(it)
}

func samePattern(p permissions.Pattern, userID string) func(patternGrant) bool {
	glob := permissions.FoldName(p.Glob)
	return func(g patternGrant) bool {
		return g.Kind == string(p.Kind) && g.UserID == userID && permissions.FoldName(g.Glob) == glob
	}
}

// updatePatterns replaces the pattern list with change(list) under optimistic concurrency: the
// item's version must be the one read, or the change is made again on a fresh read.
func (s *Store) updatePatterns(ctx context.Context, change func([]patternGrant) ([]patternGrant, error)) error {
	for attempt := 0; attempt < writeAttempts; attempt++ {
		it, err := s.get(ctx, PatternsPK)
		if err != nil {
			return fmt.Errorf("pattern grants: %w", err)
		}
		var stored struct {
			Patterns []patternGrant `dynamodbav:"patterns"`
			Version  int64          `dynamodbav:"version"`
		}
		if err := attributevalue.UnmarshalMap(it, &stored); err != nil {
			return fmt.Errorf("pattern grants: %w", err)
		}
		next, err := change(stored.Patterns)
		if err != nil {
			return err
		}
		list, err := attributevalue.Marshal(next)
		if err != nil {
			return fmt.Errorf("pattern grants: marshal: %w", err)
		}
		if len(next) == 0 {
			list = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		}
		cond, values := "attribute_not_exists(#v)", map[string]types.AttributeValue{
			":list": list, ":next": num(stored.Version + 1),
		}
		if it != nil {
			cond, values[":v"] = "#v = :v", num(stored.Version)
		}
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: key(PatternsPK),
			UpdateExpression:          aws.String("SET #p = :list, #v = :next"),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  map[string]string{"#p": patternsAttr, "#v": versionAttr},
			ExpressionAttributeValues: values,
		})
		if err == nil {
			return nil
		}
		var cf *types.ConditionalCheckFailedException
		if !errors.As(err, &cf) {
			return fmt.Errorf("pattern grants: %w", err)
		}
	}
	return fmt.Errorf("pattern grants: %w", ErrConflict)
}

func (s *Store) get(ctx context.Context, pk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// resourceGrants reads a grants item: user id → level.
func resourceGrants(r permissions.Resource, it map[string]types.AttributeValue) ([]permissions.Grant, error) {
	if it == nil {
		return nil, nil
	}
	var levels map[string]string
	if err := attributevalue.Unmarshal(it[grantsAttr], &levels); err != nil {
		return nil, fmt.Errorf("grants on %s %q: %w", r.Kind, r.ID, err)
	}
	users := make([]string, 0, len(levels))
	for u := range levels {
		users = append(users, u)
	}
	slices.Sort(users)
	out := make([]permissions.Grant, 0, len(users))
	for _, u := range users {
		g, err := grant(string(r.Kind), r.ID, false, u, levels[u])
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// patternGrants reads the patterns item.
func patternGrants(it map[string]types.AttributeValue) ([]permissions.Grant, error) {
	if it == nil {
		return nil, nil
	}
	var stored []patternGrant
	if err := attributevalue.Unmarshal(it[patternsAttr], &stored); err != nil {
		return nil, fmt.Errorf("pattern grants: %w", err)
	}
	out := make([]permissions.Grant, 0, len(stored))
	for _, e := range stored {
		g, err := grant(e.Kind, e.Glob, true, e.UserID, e.Level)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// grant rebuilds a stored grant, refusing one this package would not have written.
func grant(kind, target string, pattern bool, userID, level string) (permissions.Grant, error) {
	l, err := permissions.ParseLevel(level)
	if err != nil || !permissions.Kind(kind).Valid() {
		return permissions.Grant{}, fmt.Errorf("stored grant of %q on %s %q: %w: level %q", userID, kind, target, ErrInvalid, level)
	}
	return permissions.Grant{Kind: permissions.Kind(kind), Target: target, Pattern: pattern, UserID: userID, Level: l}, nil
}

func checkResource(r permissions.Resource) error {
	if !r.Kind.Valid() {
		return fmt.Errorf("resource kind %q: %w", r.Kind, ErrInvalid)
	}
	return checkID("resource id", r.ID)
}

func checkUser(userID string) error { return checkID("user id", userID) }

func checkID(what, s string) error {
	if s == "" || len(s) > maxIDLength || !utf8.ValidString(s) ||
		strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) }) {
		return fmt.Errorf("%s %q: %w: empty, too long or not printable", what, s, ErrInvalid)
	}
	return nil
}

func checkGrant(r permissions.Resource, userID string, level permissions.Level) error {
	if err := checkResource(r); err != nil {
		return err
	}
	if err := checkUser(userID); err != nil {
		return err
	}
	if level < permissions.NoPermissions || level > permissions.Manage {
		return fmt.Errorf("level %v: %w", level, ErrInvalid)
	}
	return nil
}

// checkPattern accepts what ParsePattern accepts.
func checkPattern(p permissions.Pattern) error {
	if _, err := permissions.ParsePattern(p.String()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// conditionFailed reports whether a transaction was cancelled because a condition failed.
func conditionFailed(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	return slices.ContainsFunc(tc.CancellationReasons, func(r types.CancellationReason) bool {
		return aws.ToString(r.Code) == "ConditionalCheckFailed"
	})
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PKAttr: str(pk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }
