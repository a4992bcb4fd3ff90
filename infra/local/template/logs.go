package template

import (
	"fmt"
)

// LogGroup is an AWS::Logs::LogGroup.
type LogGroup struct {
	LogicalID string
	Name      string
	// RetentionDays is RetentionInDays, 0 when the group keeps events forever.
	RetentionDays int
}

// SubscriptionFilter is an AWS::Logs::SubscriptionFilter with a Lambda destination: the events
// of LogGroup that FilterPattern matches are delivered to Function.
type SubscriptionFilter struct {
	LogicalID string
	// Name is FilterName, or the harness's generated one: what the payload's subscriptionFilters lists.
	Name          string
	LogGroup      string // the source log group's name
	FilterPattern string
	Function      string // destination function's logical id
}

func (p *parser) addLogGroups(m *Model) error {
	return p.each(func(r *resource) error {
		name, err := p.name(r.ID)
		if err == nil {
			err = p.claim("log group", name, r.ID)
		}
		if err != nil {
			return err
		}
		days, err := p.props(r).integer("RetentionInDays", 0)
		if err != nil {
			return err
		}
		m.LogGroups = append(m.LogGroups, &LogGroup{LogicalID: r.ID, Name: name, RetentionDays: days})
		return nil
	}, typeLogGroup)
}

// addSubscriptionFilters reads the filters, after the functions: a filter's log group must be one
// a function of the stack writes (the harness has no other source of log events), and its
// destination a function the harness runs.
func (p *parser) addSubscriptionFilters(m *Model) error {
	written := map[string]bool{}
	for _, fn := range m.Functions {
		written[fn.LogGroup] = true
	}
	return p.each(func(r *resource) error {
		pr := p.props(r)
		name, err := p.name(r.ID)
		if err != nil {
			return err
		}
		group, err := pr.need("LogGroupName")
		if err != nil {
			return err
		}
		if !written[group] {
			return pr.where("LogGroupName", fmt.Errorf("%q is no log group a function of this stack writes; only those are fed locally", group))
		}
		pattern, _, err := pr.str("FilterPattern")
		if err != nil {
			return err
		}
		dest, err := pr.need("DestinationArn")
		if err != nil {
			return err
		}
		fn, err := p.invocable(dest)
		if err != nil {
			return pr.where("DestinationArn", fmt.Errorf("only Lambda destinations are supported locally: %w", err))
		}
		m.SubscriptionFilters = append(m.SubscriptionFilters, &SubscriptionFilter{
			LogicalID: r.ID, Name: name, LogGroup: group, FilterPattern: pattern, Function: fn,
		})
		return nil
	}, typeSubscriptionFilter)
}

// functionLogGroup is the log group a function writes: LoggingConfig.LogGroup, or Lambda's
// default /aws/lambda/<function name>.
func (p *parser) functionLogGroup(pr props, functionName string) (string, error) {
	lc, ok, err := pr.obj("LoggingConfig")
	if err != nil {
		return "", err
	}
	if ok {
		group, declared, err := lc.str("LogGroup")
		if err != nil || declared {
			return group, err
		}
	}
	return "/aws/lambda/" + functionName, nil
}
