package template

import (
	"bytes"
	"encoding/json"
	"fmt"
)

func (p *parser) addTables(m *Model) error {
	return p.each(func(r *resource) error {
		t, err := p.table(r)
		if err != nil {
			return err
		}
		m.Tables = append(m.Tables, t)
		return nil
	}, typeTable, typeGlobalTable)
}

// gsiShape is a GlobalSecondaryIndexes entry as the template writes it.
type gsiShape struct {
	IndexName  string
	KeySchema  []KeyElement
	Projection struct {
		ProjectionType   string
		NonKeyAttributes []string
	}
}

// table reads an AWS::DynamoDB::Table or AWS::DynamoDB::GlobalTable, which share these properties.
func (p *parser) table(r *resource) (*Table, error) {
	pr := p.props(r)
	name, err := p.name(r.ID)
	if err != nil {
		return nil, err
	}
	if err := p.claim("table", name, r.ID); err != nil {
		return nil, err
	}
	t := &Table{LogicalID: r.ID, Name: name}
	if _, err := pr.decode("KeySchema", &t.KeySchema); err != nil {
		return nil, err
	}
	if _, err := pr.decode("AttributeDefinitions", &t.AttributeDefinitions); err != nil {
		return nil, err
	}
	var gsis []gsiShape
	if _, err := pr.decode("GlobalSecondaryIndexes", &gsis); err != nil {
		return nil, err
	}
	for _, g := range gsis {
		t.GlobalSecondaryIndexes = append(t.GlobalSecondaryIndexes, SecondaryIndex{
			IndexName:        g.IndexName,
			KeySchema:        g.KeySchema,
			ProjectionType:   g.Projection.ProjectionType,
			NonKeyAttributes: g.Projection.NonKeyAttributes,
		})
	}
	ttl, ok, err := pr.obj("TimeToLiveSpecification")
	if err != nil || !ok {
		return t, err
	}
	// A disabled specification may still name the attribute; items then never expire.
	if enabled, err := ttl.boolean("Enabled", false); err != nil || !enabled {
		return t, err
	}
	t.TTLAttribute, err = ttl.need("AttributeName")
	return t, err
}

func (p *parser) addQueues(m *Model) error {
	return p.each(func(r *resource) error {
		q, err := p.queue(r)
		if err != nil {
			return err
		}
		m.Queues = append(m.Queues, q)
		return nil
	}, typeQueue)
}

func (p *parser) queue(r *resource) (*Queue, error) {
	pr := p.props(r)
	name, err := p.name(r.ID)
	if err != nil {
		return nil, err
	}
	if err := p.claim("queue", name, r.ID); err != nil {
		return nil, err
	}
	q := &Queue{LogicalID: r.ID, Name: name}
	if q.FIFO, err = pr.boolean("FifoQueue", false); err != nil {
		return nil, err
	}
	if q.VisibilityTimeout, err = pr.seconds("VisibilityTimeout", 30); err != nil {
		return nil, err
	}
	redrive, ok, err := p.redrivePolicy(pr)
	if err != nil || !ok {
		return q, err
	}
	arn, err := redrive.need("deadLetterTargetArn")
	if err != nil {
		return nil, err
	}
	dlq, ok := p.owner(typeQueue, arn)
	if !ok {
		return nil, redrive.where("deadLetterTargetArn", fmt.Errorf("%q is no queue of this stack", arn))
	}
	q.DeadLetterQueue = dlq
	q.MaxReceiveCount, err = redrive.integer("maxReceiveCount", 0)
	return q, err
}

// redrivePolicy reads RedrivePolicy, which CloudFormation accepts as an object or as JSON text.
func (p *parser) redrivePolicy(pr props) (props, bool, error) {
	v, ok, err := pr.resolved("RedrivePolicy")
	if err != nil || !ok {
		return props{}, false, err
	}
	if s, isText := v.(string); isText {
		dec := json.NewDecoder(bytes.NewReader([]byte(s)))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return props{}, false, pr.where("RedrivePolicy", err)
		}
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return props{}, false, pr.where("RedrivePolicy", fmt.Errorf("want an object, got %s", kind(v)))
	}
	return props{p: p, m: m, prefix: joinPath(pr.prefix, "RedrivePolicy")}, true, nil
}

func (p *parser) addSecrets(m *Model) error {
	return p.each(func(r *resource) error {
		s, err := p.secret(r)
		if err != nil {
			return err
		}
		m.Secrets = append(m.Secrets, s)
		return nil
	}, typeSecret)
}

func (p *parser) secret(r *resource) (*Secret, error) {
	pr := p.props(r)
	name, err := p.name(r.ID)
	if err != nil {
		return nil, err
	}
	if err := p.claim("secret", name, r.ID); err != nil {
		return nil, err
	}
	s := &Secret{LogicalID: r.ID, Name: name}
	if s.Value, _, err = pr.str("SecretString"); err != nil {
		return nil, err
	}
	if s.Generate, err = pr.rawJSON("GenerateSecretString"); err != nil {
		return nil, err
	}
	return s, nil
}
