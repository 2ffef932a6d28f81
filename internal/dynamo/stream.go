package dynamo

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
)

// StreamViewType is what the generations table's stream records: both
// images of every change, from which the events' publisher tells which
// change it was (package domainevents). template.yaml declares the same.
const StreamViewType = types.StreamViewTypeNewAndOldImages

// StreamImage decodes one image of a stream record of the generations
// table: the generation, or nil for an absent image and for the table's
// other items (idempotency keys, counters, quotas, the limiters and the
// pause switches), whose keys all hold '#', which a generation id never
// does.
func StreamImage(image map[string]types.AttributeValue) (*generation.Generation, error) {
	if len(image) == 0 {
		return nil, nil
	}
	key, ok := image[AttrGenerationID].(*types.AttributeValueMemberS)
	if !ok || key.Value == "" || strings.Contains(key.Value, "#") {
		return nil, nil
	}
	g, err := unmarshalGeneration(image)
	if err != nil {
		return nil, err
	}
	return &g, nil
}
