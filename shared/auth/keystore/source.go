package keystore

// Where a deployment's keys come from (AUTH_SOURCE): this store, or an external Hokusai auth
// service. The authorizer validates against one; the keys function serves this one only.
const (
	SourceDynamoDB = "dynamodb"
	SourceExternal = "external"
)
