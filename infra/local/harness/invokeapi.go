package harness

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// invokeAPI serves Lambda's Invoke operation (POST /2015-03-31/functions/{name}/invocations) for
// the stack's functions, so `aws lambda invoke --endpoint-url` and `make key` reach them locally
// exactly as an operator with IAM credentials reaches them in AWS.
func (h *Harness) invokeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		id, fn := h.lookup(r.PathValue("name"))
		if fn == nil {
			writeLambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+r.PathValue("name"))
			return
		}
		payload, err := io.ReadAll(io.LimitReader(r.Body, lambdart.MaxRequestBytes+1))
		if err != nil {
			writeLambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read the payload")
			return
		}
		if len(payload) == 0 {
			payload = []byte("{}")
		}
		res, err := h.Invoke(r.Context(), id, payload)
		var ie *lambdart.InvokeError
		switch {
		case asInvokeError(err, &ie):
			writeLambdaError(w, http.StatusRequestEntityTooLarge, ie.Type, ie.Message)
		case err != nil:
			writeLambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		case res.FunctionError != nil:
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": res.FunctionError.Type, "errorMessage": res.FunctionError.Message})
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amz-Executed-Version", "$LATEST")
			_, _ = w.Write(res.Payload)
		}
	})
	return mux
}

// lookup finds a function by short name, physical name, logical id or ARN.
func (h *Harness) lookup(name string) (string, *template.Function) {
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	for id, fn := range h.Model.Functions {
		if name == fn.Name || name == id || name == fn.FunctionName {
			return id, fn
		}
	}
	return "", nil
}

func asInvokeError(err error, target **lambdart.InvokeError) bool {
	ie, ok := err.(*lambdart.InvokeError)
	if ok {
		*target = ie
	}
	return ok
}

func writeLambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
