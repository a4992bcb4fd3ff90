package faultproxy

import (
	"encoding/json"
	"net/http"
	"strings"
)

// writeThrottle answers r with the throttling error of its service, shaped for the service's
// protocol so that the SDK parses the error code. Every code used is in aws-sdk-go-v2's
// retry.DefaultThrottleErrorCodes, which makes the SDK retry with its throttle backoff.
func writeThrottle(w http.ResponseWriter, r *http.Request, service string) {
	const msg = "faultproxy: injected throttling"
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		// awsJson 1.0/1.1 (DynamoDB, EventBridge, SQS, Secrets Manager, ...): HTTP 400 and the
		// error type in __type, where a namespace prefix up to '#' is ignored by the SDK.
		code := "ThrottlingException"
		if service == "dynamodb" {
			// What DynamoDB's data plane returns; the SDK maps it to
			// types.ProvisionedThroughputExceededException.
			code = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
		}
		ct := r.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-amz-json-") {
			ct = "application/x-amz-json-1.0"
		}
		writeJSON(w, http.StatusBadRequest, ct, code, msg)
	case service == "s3":
		// REST-XML: S3 signals throttling with 503 SlowDown.
		writeXML(w, http.StatusServiceUnavailable,
			`<Error><Code>SlowDown</Code><Message>`+msg+`</Message></Error>`)
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		// AWS query protocol (SNS, STS, CloudWatch, ...).
		writeXML(w, http.StatusBadRequest,
			`<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>`+msg+`</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>`)
	default:
		// REST-JSON (Lambda, API Gateway, ...): the error type travels in X-Amzn-ErrorType; a 429
		// is a throttle for the SDK even if the type is not modelled.
		w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
		writeJSON(w, http.StatusTooManyRequests, "application/json", "", msg)
	}
}

// writeJSON writes an AWS-style JSON error body; typ becomes __type when non-empty.
func writeJSON(w http.ResponseWriter, status int, contentType, typ, msg string) {
	body := map[string]string{"message": msg}
	if typ != "" {
		body["__type"] = typ
	}
	b, _ := json.Marshal(body) // a map of strings always marshals
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeXML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + body))
}
