// Command echofn is a test bootstrap whose behaviour is chosen by its
// payload, so the lambdart tests can drive every Runtime API path.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Op      string          `json:"op"`
	Data    json.RawMessage `json:"data,omitempty"`
	MS      int             `json:"ms,omitempty"`
	Code    int             `json:"code,omitempty"`
	N       int64           `json:"n,omitempty"`
	Type    string          `json:"type,omitempty"`
	Message string          `json:"message,omitempty"`
}

type echo struct {
	PID        int               `json:"pid"`
	Data       json.RawMessage   `json:"data,omitempty"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	Env        map[string]string `json:"env"`
}

func main() {
	if os.Getenv("ECHOFN_CHILD") != "" {
		time.Sleep(time.Minute)
		return
	}
	switch os.Getenv("ECHOFN_INIT_FAIL") {
	case "post":
		postInitError()
		os.Exit(1)
	case "exit":
		log.Fatal("echofn: init failed")
	}
	lambda.Start(handle)
}

func handle(ctx context.Context, req request) (any, error) {
	log.Printf("echofn: op=%s", req.Op)
	switch req.Op {
	case "echo":
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		env := map[string]string{}
		for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
			"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER", "LAMBDA_TASK_ROOT", "TZ", "ECHOFN_CUSTOM", "_X_AMZN_TRACE_ID"} {
			env[k] = os.Getenv(k)
		}
		return echo{PID: os.Getpid(), Data: req.Data, RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn,
			DeadlineMS: deadline.UnixMilli(), Env: env}, nil
	case "sleep":
		time.Sleep(time.Duration(req.MS) * time.Millisecond)
		return echo{PID: os.Getpid()}, nil
	case "exit":
		os.Exit(req.Code)
	case "panic":
		panic("boom")
	case "crash":
		// A panic outside the handler goroutine cannot be reported; the process just dies.
		go panic("crash")
		select {}
	case "error":
		return nil, messages.InvokeResponse_Error{Type: req.Type, Message: req.Message}
	case "big":
		// JSON-encoded as a string: N+2 bytes.
		return strings.Repeat("x", int(req.N)), nil
	case "stream":
		// An io.Reader that encodes to {} is sent as-is, chunked.
		return &filler{left: req.N}, nil
	case "streamerr":
		// aws-lambda-go keeps Type and Message only for a value, not a pointer.
		return &filler{left: req.N, fail: messages.InvokeResponse_Error{Type: req.Type, Message: req.Message}}, nil
	case "spawn":
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "ECHOFN_CHILD=1")
		child.Stderr = os.Stderr // holds the output pipe open, like a stray daemon would
		if err := child.Start(); err != nil {
			return nil, err
		}
		return map[string]int{"pid": os.Getpid(), "child": child.Process.Pid}, nil
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

// filler produces N bytes without holding them, then EOF or fail.
type filler struct {
	left int64
	fail error
}

func (f *filler) Read(p []byte) (int, error) {
	if f.left == 0 {
		if f.fail != nil {
			return 0, f.fail
		}
		return 0, io.EOF
	}
	n := min(int64(len(p)), f.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	f.left -= n
	return int(n), nil
}

func postInitError() {
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	body, _ := json.Marshal(map[string]string{"errorType": "Custom.InitFailure", "errorMessage": "init failed on purpose"})
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "Custom.InitFailure")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
}
