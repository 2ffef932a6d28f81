package lambdatest

import (
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/domainevents"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
)

// eventStatuses are the statuses a generation may have after a change
// that is an event (domainevents.Classify): what the publisher's filter
// must let through. A new generation is always stored as generation.New
// makes it; every other change has an old image.
func eventStatuses() []string {
	all := []generation.Status{generation.Pending, generation.Processing, generation.Completed, generation.Failed, generation.Cancelled}
	created := generation.New("g", "u", generation.Free, generation.Request{Prompt: "p"}, time.Now(), time.Hour)
	out := map[string]bool{}
	if _, ok := domainevents.Classify(nil, &created); ok {
		out[string(created.Status)] = true
	}
	for _, to := range all {
		for _, from := range all {
			if _, ok := domainevents.Classify(&generation.Generation{Status: from}, &generation.Generation{Status: to}); ok {
				out[string(to)] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(out))
}

// TestTemplateDomainEvents: the generations table's stream is what the
// code reads (dynamo.StreamViewType); the publisher function reads it with
// partial batch responses, bisection, bounded retries and a dead-letter
// queue, its filter passing every record that can be an event; it puts
// events on the stack's bus or the named one, and its role may do that on
// that bus alone, read that stream alone and nothing else of the data.
func TestTemplateDomainEvents(t *testing.T) {
	tpl := template(t)
	table := props(t, tpl, "GenerationsTable")
	if got := canonical(table["StreamSpecification"]); got != canonical(map[string]any{"StreamViewType": string(dynamo.StreamViewType)}) {
		t.Errorf("GenerationsTable StreamSpecification = %s, want %s", got, dynamo.StreamViewType)
	}
	if s := dynamo.GenerationsTable("x").StreamSpecification; s == nil || s.StreamViewType != dynamo.StreamViewType {
		t.Errorf("dynamo.GenerationsTable makes no %s stream: %+v", dynamo.StreamViewType, s)
	}

	fn := props(t, tpl, "PublisherFunction")
	if canonical(fn["Role"]) != canonical(map[string]any{"Fn::GetAtt": []any{"PublisherRole", "Arn"}}) {
		t.Errorf("PublisherFunction role = %v", fn["Role"])
	}
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	if want := canonical(map[string]any{"Fn::If": []any{"CreateEventBus", map[string]any{"Ref": "EventBus"}, map[string]any{"Ref": "EventBusName"}}}); canonical(env["EVENT_BUS_NAME"]) != want {
		t.Errorf("PublisherFunction EVENT_BUS_NAME = %s, want %s", canonical(env["EVENT_BUS_NAME"]), want)
	}
	if r := resource(t, tpl, "EventBus"); r["Type"] != "AWS::Events::EventBus" || r["Condition"] != "CreateEventBus" {
		t.Errorf("EventBus = %v", r)
	}
	if p, ok := tpl["Parameters"].(map[string]any)["EventBusName"].(map[string]any); !ok || p["Default"] != "" {
		t.Errorf("no EventBusName parameter defaulting to a bus of the stack's own: %v", p)
	}

	var stream map[string]any
	for name, e := range fn["Events"].(map[string]any) {
		e := e.(map[string]any)
		if e["Type"] != "DynamoDB" {
			t.Errorf("PublisherFunction event %s is %v; it reads the stream only", name, e["Type"])
			continue
		}
		stream = e["Properties"].(map[string]any)
	}
	if stream == nil {
		t.Fatal("PublisherFunction reads no DynamoDB stream")
	}
	if canonical(stream["Stream"]) != canonical(map[string]any{"Fn::GetAtt": []any{"GenerationsTable", "StreamArn"}}) {
		t.Errorf("stream = %v", stream["Stream"])
	}
	if !slices.Equal(toStrings(stream["FunctionResponseTypes"]), []string{"ReportBatchItemFailures"}) {
		t.Errorf("stream event without ReportBatchItemFailures: %v", stream["FunctionResponseTypes"])
	}
	if stream["BisectBatchOnFunctionError"] != true || num(stream["MaximumRetryAttempts"]) < 1 || stream["StartingPosition"] != "TRIM_HORIZON" {
		t.Errorf("stream retries: %v", stream)
	}
	if n := num(stream["BatchSize"]); n < domainevents.MaxBatch || n > 1000 {
		t.Errorf("BatchSize %d", n)
	}
	dlq := canonical(map[string]any{"Fn::GetAtt": []any{"PublisherDeadLetterQueue", "Arn"}})
	if of := stream["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any); of["Type"] != "SQS" || canonical(of["Destination"]) != dlq {
		t.Errorf("on failure: %v", of)
	}
	filters := stream["FilterCriteria"].(map[string]any)["Filters"].([]any)
	if len(filters) != 1 {
		t.Fatalf("filters %v", filters)
	}
	var pattern struct {
		Dynamodb struct {
			NewImage struct {
				Status struct {
					S []string `json:"S"`
				} `json:"status"`
			}
		} `json:"dynamodb"`
	}
	if err := json.Unmarshal([]byte(filters[0].(map[string]any)["Pattern"].(string)), &pattern); err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(pattern.Dynamodb.NewImage.Status.S)
	sort.Strings(got)
	if want := eventStatuses(); !slices.Equal(got, want) {
		t.Errorf("the filter passes new statuses %v; the events come from %v", got, want)
	}

	// The role: the one bus, the one stream, the dead-letter queue, its
	// logs; and no other role puts events or reads the stream.
	bus := canonical(map[string]any{"Fn::If": []any{"CreateEventBus", map[string]any{"Fn::GetAtt": []any{"EventBus", "Arn"}},
		map[string]any{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"}}})
	streamARN := canonical(map[string]any{"Fn::Sub": "${GenerationsTable.Arn}/stream/*"})
	want := map[string][]string{
		bus:       {"events:PutEvents"},
		streamARN: {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
		dlq:       {"sqs:SendMessage"},
		canonical(map[string]any{"Fn::GetAtt": []any{"PublisherLogGroup", "Arn"}}): {"logs:CreateLogStream", "logs:PutLogEvents"},
	}
	gotGrants := grants(t, tpl, "PublisherRole")
	for _, a := range gotGrants {
		sort.Strings(a)
	}
	if canonical(gotGrants) != canonical(want) {
		t.Errorf("PublisherRole grants\n %s\nwant\n %s", canonical(gotGrants), canonical(want))
	}
	for id, r := range tpl["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] != "AWS::IAM::Role" || id == "PublisherRole" {
			continue
		}
		for res, actions := range grants(t, tpl, id) {
			for _, a := range actions {
				if strings.HasPrefix(a, "events:") || res == streamARN {
					t.Errorf("%s has %s on %s", id, a, res)
				}
			}
		}
	}

	// Given-up events and late ones are alarms.
	for _, id := range []string{"PublisherDeadLetterAlarm", "PublisherIteratorAgeAlarm", "PublisherErrorsAlarm"} {
		p := props(t, tpl, id)
		if canonical(p["AlarmActions"]) != `[{"Ref":"AlarmTopic"}]` {
			t.Errorf("%s does not notify", id)
		}
	}
	if p := props(t, tpl, "PublisherIteratorAgeAlarm"); p["MetricName"] != "IteratorAge" {
		t.Errorf("PublisherIteratorAgeAlarm watches %v", p["MetricName"])
	}
}
