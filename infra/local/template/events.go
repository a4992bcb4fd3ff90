package template

import (
	"errors"
	"fmt"
	"time"
)

func (p *parser) addBuses(m *Model) error {
	return p.each(func(r *resource) error {
		name, err := p.name(r.ID)
		if err == nil {
			err = p.claim("bus", name, r.ID)
		}
		if err != nil {
			return err
		}
		m.Buses = append(m.Buses, &Bus{LogicalID: r.ID, Name: name})
		return nil
	}, typeBus)
}

func (p *parser) addRules(m *Model) error {
	return p.each(func(r *resource) error {
		rule, err := p.rule(r)
		if err != nil {
			return err
		}
		m.Rules = append(m.Rules, rule)
		return nil
	}, typeRule)
}

func (p *parser) rule(r *resource) (*Rule, error) {
	pr := p.props(r)
	name, err := p.name(r.ID)
	if err != nil {
		return nil, err
	}
	bus, err := p.ruleBus(r.ID)
	if err != nil {
		return nil, err
	}
	// Rule names are unique per bus.
	if err := p.claim("rule", bus+"/"+name, r.ID); err != nil {
		return nil, err
	}
	rule := &Rule{LogicalID: r.ID, Name: name, Bus: bus}
	if rule.EventPattern, err = pr.rawJSON("EventPattern"); err != nil {
		return nil, err
	}
	if rule.Schedule, _, err = pr.str("ScheduleExpression"); err != nil {
		return nil, err
	}
	if rule.EventPattern == nil && rule.Schedule == "" {
		return nil, errors.New("neither EventPattern nor ScheduleExpression")
	}
	state, err := pr.strOr("State", "ENABLED")
	if err != nil {
		return nil, err
	}
	// ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is enabled too.
	rule.Enabled = state != "DISABLED"
	targets, err := pr.objs("Targets")
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		target, err := p.target(t)
		if err != nil {
			return nil, err
		}
		rule.Targets = append(rule.Targets, target)
	}
	return rule, nil
}

func (p *parser) target(pr props) (*Target, error) {
	id, err := pr.need("Id")
	if err != nil {
		return nil, err
	}
	t := &Target{ID: id}
	arn, err := pr.need("Arn")
	if err != nil {
		return nil, err
	}
	if _, ok := p.owner(typeFunction, arn); ok {
		if t.Function, err = p.invocable(arn); err != nil {
			return nil, pr.where("Arn", err)
		}
	} else if q, ok := p.owner(typeQueue, arn); ok {
		t.Queue = q
	} else {
		return nil, pr.where("Arn", fmt.Errorf("%q is neither a function nor a queue of this stack", arn))
	}
	// The harness delivers the event or the constant Input; anything it would have to reshape is
	// refused rather than delivered differently than in AWS.
	for _, key := range []string{"InputPath", "InputTransformer"} {
		if _, ok := pr.m[key]; ok {
			return nil, pr.where(key, errors.New("not supported locally"))
		}
	}
	if t.Input, err = pr.rawJSON("Input"); err != nil {
		return nil, err
	}
	if t.DeadLetterQueue, err = p.targetDLQ(pr); err != nil {
		return nil, err
	}
	retry, ok, err := pr.obj("RetryPolicy")
	if err != nil || !ok {
		return t, err
	}
	if t.MaxRetryAttempts, err = retry.integer("MaximumRetryAttempts", 0); err != nil {
		return nil, err
	}
	age, err := retry.integer("MaximumEventAgeInSeconds", 0)
	t.MaxEventAge = time.Duration(age) * time.Second
	return t, err
}

func (p *parser) targetDLQ(pr props) (string, error) {
	dlc, ok, err := pr.obj("DeadLetterConfig")
	if err != nil || !ok {
		return "", err
	}
	arn, ok, err := dlc.str("Arn")
	if err != nil || !ok {
		return "", err
	}
	q, ok := p.owner(typeQueue, arn)
	if !ok {
		return "", dlc.where("Arn", fmt.Errorf("%q is no queue of this stack", arn))
	}
	return q, nil
}
