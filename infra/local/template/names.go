package template

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// nameProps are the properties in which a template declares a resource's physical name.
var nameProps = map[string]string{
	typeTable:              "TableName",
	typeGlobalTable:        "TableName",
	typeQueue:              "QueueName",
	typeBus:                "Name",
	typeRule:               "Name",
	typeSecret:             "Name",
	typeFunction:           "FunctionName",
	typeTopic:              "TopicName",
	typeLogGroup:           "LogGroupName",
	typeSubscriptionFilter: "FilterName",
}

// nameLimits are the services' maximum name lengths where a generated name could exceed them.
var nameLimits = map[string]int{
	typeQueue:    80,
	typeRule:     64,
	typeFunction: 64,
}

// DefaultPhysicalName is the name the harness gives a resource whose template declares none:
// <stack>-<logical id>, or <stack>/<logical id> for secrets, shortened to the service's limit.
// Unlike CloudFormation's generated names it has no random suffix, so every run of the harness
// (and everything that reads the model) agrees on it.
func DefaultPhysicalName(stackName, logicalID, resourceType string) string {
	if resourceType == typeSecret {
		return stackName + "/" + logicalID
	}
	return shorten(stackName+"-"+logicalID, nameLimits[resourceType])
}

// shorten cuts s to limit bytes, replacing the tail by a hash of all of s so that two long names
// with a common prefix stay distinct. limit 0 means no limit.
func shorten(s string, limit int) string {
	if limit <= 0 || len(s) <= limit {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:limit-9] + "-" + hex.EncodeToString(sum[:4])
}

func hasARN(resourceType string) bool {
	switch resourceType {
	case typeTable, typeGlobalTable, typeQueue, typeBus, typeRule, typeSecret, typeFunction, typeTopic, typeLogGroup:
		return true
	}
	return false
}

// memoize computes the value for key once. Names can depend on other names (a TableName built with
// Fn::Sub from a bus name), so a key met again while it is being computed is a cycle.
func (p *parser) memoize(key string, compute func() (string, error)) (string, error) {
	if v, ok := p.memo[key]; ok {
		return v, nil
	}
	if p.busy[key] {
		return "", fmt.Errorf("circular reference through %s", key)
	}
	p.busy[key] = true
	defer delete(p.busy, key)
	v, err := compute()
	if err != nil {
		return "", err
	}
	p.memo[key] = v
	return v, nil
}

// name is the physical name of resource id: the one its template declares, or a generated one.
func (p *parser) name(id string) (string, error) {
	return p.memoize("name of "+id, func() (string, error) {
		r := p.resources[id]
		pr := p.props(r)
		if key, ok := nameProps[r.Type]; ok {
			s, declared, err := pr.str(key)
			if err != nil || declared {
				return s, err
			}
		}
		name := ""
		if p.opts.Physical != nil {
			name = p.opts.Physical(p.stack, id, r.Type)
		}
		if name == "" {
			name = DefaultPhysicalName(p.stack, id, r.Type)
		}
		if r.Type == typeQueue {
			// SQS requires FIFO queue names to end in .fifo, and CloudFormation's generated ones do.
			fifo, err := pr.boolean("FifoQueue", false)
			if err != nil {
				return "", err
			}
			if fifo && !strings.HasSuffix(name, ".fifo") {
				name = shorten(name, 80-len(".fifo")) + ".fifo"
			}
		}
		return name, nil
	})
}

// arn is the ARN of resource id in the local account and region.
func (p *parser) arn(id string) (string, error) {
	r := p.resources[id]
	name, err := p.name(id)
	if err != nil {
		return "", err
	}
	arn := func(service, resource string) string {
		return "arn:aws:" + service + ":" + Region + ":" + AccountID + ":" + resource
	}
	switch r.Type {
	case typeTable, typeGlobalTable:
		return arn("dynamodb", "table/"+name), nil
	case typeQueue:
		return arn("sqs", name), nil
	case typeBus:
		return arn("events", "event-bus/"+name), nil
	case typeRule:
		bus, err := p.ruleBus(id)
		if err != nil {
			return "", err
		}
		if bus != "default" {
			name = bus + "/" + name
		}
		return arn("events", "rule/"+name), nil
	case typeSecret:
		// The partial ARN: Secrets Manager appends a random suffix to the real one, and accepts
		// (as moto does) the ARN without it wherever a secret id is expected.
		return arn("secretsmanager", "secret:"+name), nil
	case typeFunction:
		return arn("lambda", "function:"+name), nil
	case typeTopic:
		return arn("sns", name), nil
	case typeLogGroup:
		return arn("logs", "log-group:"+name+":*"), nil
	}
	return "", fmt.Errorf("no ARN for a %s", r.Type)
}

// queueURL is the URL of queue id on the local endpoint.
func (p *parser) queueURL(id string) (string, error) {
	name, err := p.name(id)
	if err != nil {
		return "", err
	}
	endpoint := strings.TrimRight(p.opts.EndpointURL, "/")
	if endpoint == "" {
		endpoint = "https://sqs." + Region + ".amazonaws.com"
	}
	return endpoint + "/" + AccountID + "/" + name, nil
}

// ruleBus is the name of the bus rule id is on: EventBusName may be a name (often a Ref to the
// bus) or the bus's ARN.
func (p *parser) ruleBus(id string) (string, error) {
	return p.memoize("bus of "+id, func() (string, error) {
		s, ok, err := p.props(p.resources[id]).str("EventBusName")
		if err != nil || !ok || s == "" {
			return "default", err
		}
		if !strings.HasPrefix(s, "arn:") {
			return s, nil
		}
		_, name, found := strings.Cut(s, ":event-bus/")
		if !found || name == "" {
			return "", fmt.Errorf("EventBusName: %q is not an event bus ARN", s)
		}
		return name, nil
	})
}

// ruleRef is a rule's Ref value: its name, or "<bus>|<name>" for a rule on a custom bus, which is
// what CloudFormation returns (undocumented, but stacks split it to get the name).
func (p *parser) ruleRef(id string) (string, error) {
	name, err := p.name(id)
	if err != nil {
		return "", err
	}
	bus, err := p.ruleBus(id)
	if err != nil || bus == "default" {
		return name, err
	}
	return bus + "|" + name, nil
}

// owner is the logical id of the resource of type typ whose physical name, ARN or (for queues) URL
// is s: rule targets, event sources and integrations name what they invoke by ARN.
func (p *parser) owner(typ, s string) (string, bool) {
	if p.index == nil {
		p.buildIndex()
	}
	if typ == typeFunction {
		s = unqualified(s)
	}
	id, ok := p.index[typ][s]
	return id, ok
}

// buildIndex maps every function's and queue's names to its logical id. A resource whose name
// cannot be resolved is left out: anything referencing it fails on that reference instead.
func (p *parser) buildIndex() {
	p.index = map[string]map[string]string{typeFunction: {}, typeQueue: {}}
	for _, id := range p.ids {
		typ := p.resources[id].Type
		keys, ok := p.index[typ]
		if !ok {
			continue
		}
		lookups := []func(string) (string, error){p.name, p.arn}
		if typ == typeQueue {
			lookups = append(lookups, p.queueURL)
		}
		for _, f := range lookups {
			if k, err := f(id); err == nil {
				keys[k] = id
			}
		}
	}
}

// unqualified drops a version or alias from a function ARN
// (arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>).
func unqualified(arn string) string {
	parts := strings.SplitN(arn, ":", 8)
	if len(parts) == 8 && parts[0] == "arn" && parts[5] == "function" {
		return strings.Join(parts[:7], ":")
	}
	return arn
}
