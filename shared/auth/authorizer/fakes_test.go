package authorizer_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

const (
	keysTable  = "keys"
	cacheTable = "validation-cache"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKey is a well-formed key of env; n makes it distinct.
func testKey(env string, n int) string { return fmt.Sprintf("hk_%s_TestKey%033d", env, n) }

// clock is a controllable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeDB is an in-process DynamoDB for GetItem and PutItem on tables keyed by key_hash, counting
// calls per table. It stores and returns attribute maps, so the code's marshalling is exercised.
type fakeDB struct {
	mu     sync.Mutex
	items  map[string]map[string]map[string]types.AttributeValue
	gets   map[string]int
	puts   map[string]int
	getErr map[string]error
	putErr map[string]error
	// consistent records whether the last GetItem on each table was strongly consistent.
	consistent map[string]bool
}

func newFakeDB() *fakeDB {
	return &fakeDB{items: map[string]map[string]map[string]types.AttributeValue{},
		gets: map[string]int{}, puts: map[string]int{}, getErr: map[string]error{}, putErr: map[string]error{},
		consistent: map[string]bool{}}
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	table := *in.TableName
	f.gets[table]++
	f.consistent[table] = in.ConsistentRead != nil && *in.ConsistentRead
	if err := f.getErr[table]; err != nil {
		return nil, err
	}
	return &dynamodb.GetItemOutput{Item: f.items[table][in.Key["key_hash"].(*types.AttributeValueMemberS).Value]}, nil
}

func (f *fakeDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	table := *in.TableName
	f.puts[table]++
	if err := f.putErr[table]; err != nil {
		return nil, err
	}
	if f.items[table] == nil {
		f.items[table] = map[string]map[string]types.AttributeValue{}
	}
	f.items[table][in.Item["key_hash"].(*types.AttributeValueMemberS).Value] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeDB) setErr(table string, get, put error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getErr[table], f.putErr[table] = get, put
}

func (f *fakeDB) item(table, digest string) map[string]types.AttributeValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.items[table][digest]
}

// putRecord stores rec for key as the keys function would.
func (f *fakeDB) putRecord(t testing.TB, key string, rec keystore.Record) {
	t.Helper()
	rec.KeyHash = apikey.Digest(key)
	av, err := attributevalue.MarshalMap(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(keysTable), Item: av}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.puts[keysTable]-- // seeding is not a call of the code under test
	f.mu.Unlock()
}

// answer is what the fake auth service says.
type answer struct {
	res authservice.Result
	err error
}

var (
	answerValid = answer{res: authservice.Result{}}
	answerNo    = answer{err: fmt.Errorf("%w (status 401)", authservice.ErrInvalid)}
	answer429   = answer{err: authservice.ErrRateLimited}
	answer503   = answer{err: fmt.Errorf("%w: status 503", authservice.ErrUnavailable)}
	answerHang  = answer{err: fmt.Errorf("%w: %w", authservice.ErrUnavailable, context.DeadlineExceeded)}
)

// fakeService is the auth service behind the AuthService interface, counting calls.
type fakeService struct {
	mu     sync.Mutex
	calls  int
	lastIP string
	next   answer
	user   authservice.Result
	// entered and release, when set, hold the next call: it signals entered, then waits.
	entered, release chan struct{}
}

func newFakeService() *fakeService {
	s := &fakeService{next: answerValid}
	s.user.UserID, s.user.KeyID, s.user.Email, s.user.ServiceID = "user-1", "key-1", "ada@example.com", "platform"
	s.user.Scopes, s.user.Admin = []string{"mlflow:write", "model:read"}, true
	return s
}

func (s *fakeService) Validate(_ context.Context, _, clientIP string) (authservice.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.lastIP = clientIP
	if s.entered != nil {
		entered, release := s.entered, s.release
		s.entered, s.release = nil, nil
		s.mu.Unlock()
		close(entered)
		<-release
		s.mu.Lock()
	}
	if s.next.err != nil {
		return authservice.Result{}, s.next.err
	}
	return s.user, nil
}

// gate holds the next call until release is closed, closing entered once it is under way.
func (s *fakeService) gate(entered, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entered, s.release = entered, release
}

func (s *fakeService) set(a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = a
}

func (s *fakeService) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// calls is what one step cost: GetItem and PutItem on any table, and auth-service calls.
type calls struct{ get, service, put int }

func (f *fakeDB) totals() (get, put int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.gets {
		get += n
	}
	for _, n := range f.puts {
		put += n
	}
	return get, put
}

func number(t testing.TB, av types.AttributeValue) int64 {
	t.Helper()
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("%T is not a number", av)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// quietLog is for tests that do not read the log.
var quietLog = slog.New(slog.DiscardHandler)
