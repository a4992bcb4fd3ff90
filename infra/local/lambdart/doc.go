// Package lambdart emulates the AWS Lambda Runtime API so the local harness
// can run a function's real bootstrap binary, as built for provided.al2023,
// behind an emulated API Gateway without Docker.
//
// We do not use AWS's Runtime Interface Emulator because it buffers every
// response and caps it at 6 MB, so it cannot serve API Gateway STREAM
// integrations (InvokeWithResponseStream), where the function sends a JSON
// prelude, eight NUL bytes and then a body that may be far larger than 6 MB
// and should reach the client as it is produced. It also runs only one
// invocation at a time, whereas the gateway needs several concurrent
// execution environments that stay warm between requests.
//
// A Pool owns up to Config.MaxConcurrency bootstrap processes. Each gets its
// own Runtime API endpoint on 127.0.0.1 and serves one invocation at a time,
// so warm reuse, cold starts, timeouts, crashes and size limits behave the
// way they do on Lambda and can be tested locally.
package lambdart
