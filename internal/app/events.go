package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/songqueue/songqueue/internal/domainevents"
)

// Publisher assembles the publisher function: the generations table's
// stream in (Lambda reads it; the function needs no DynamoDB client),
// PutEvents to EVENT_BUS_NAME out, nothing else.
func Publisher(ctx context.Context, e *Env) (*domainevents.Publisher, error) {
	if e.Config.Events.Bus == "" {
		return nil, errors.New("EVENT_BUS_NAME is not set: the publisher function puts the domain events on that bus (template.yaml sets it)")
	}
	sink, err := e.eventBridge()
	if err != nil {
		return nil, err
	}
	return domainevents.NewPublisher(sink, e.Log), nil
}

// Events is where the local stack publishes the domain events: the bus
// of EVENT_BUS_NAME when set, as the publisher function does; otherwise
// one log line per event and, with EVENTS_WEBHOOK_URL, a post of
// EventBridge's envelope there.
func (e *Env) Events() (*domainevents.Publisher, error) {
	if e.Config.Events.Bus != "" {
		sink, err := e.eventBridge()
		if err != nil {
			return nil, err
		}
		return domainevents.NewPublisher(sink, e.Log), nil
	}
	sinks := domainevents.Tee{domainevents.Log{Log: e.Log.With("component", "events")}}
	if u := e.Config.Events.WebhookURL; u != "" {
		sinks = append(sinks, domainevents.Webhook{URL: u, Client: &http.Client{Timeout: 10 * time.Second}})
	}
	return domainevents.NewPublisher(sinks, e.Log), nil
}

func (e *Env) eventBridge() (*domainevents.EventBridge, error) {
	cfg, err := e.aws()
	if err != nil {
		return nil, err
	}
	var client domainevents.PutEventsAPI = eventbridge.NewFromConfig(cfg)
	if e.opt.WrapEvents != nil {
		client = e.opt.WrapEvents(client)
	}
	return &domainevents.EventBridge{Client: client, Bus: e.Config.Events.Bus, Log: e.Log}, nil
}
