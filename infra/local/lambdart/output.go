package lambdart

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// LogSink receives each line an execution environment writes to stdout or stderr, without its
// newline, with the time it was written and the environment's log stream name: what Lambda
// turns into one CloudWatch Logs event of the function's log group. It must not block for long:
// the function's output waits for it.
type LogSink func(stream string, at time.Time, line string)

// maxLineBytes bounds a line held while waiting for its newline; CloudWatch Logs cuts events at
// 256 KB too.
const maxLineBytes = 256 * 1024

// instanceOutput splits one process's output (stdout and stderr share it, so exec copies both
// with one goroutine) into lines, and hands each whole line to the pool's writer and the sink,
// so lines of concurrent instances never interleave mid-line.
type instanceOutput struct {
	mu     sync.Mutex
	out    io.Writer // the pool's (locked) writer; nil: no raw output wanted
	sink   LogSink   // nil: no sink
	stream string
	buf    []byte
}

func (o *instanceOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			break
		}
		o.emit(o.buf[:i+1])
		o.buf = o.buf[i+1:]
	}
	if len(o.buf) > maxLineBytes {
		o.emit(o.buf)
		o.buf = nil
	}
	return len(p), nil
}

// flush hands on a last line without a newline, once the process is gone.
func (o *instanceOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.buf) > 0 {
		o.emit(o.buf)
		o.buf = nil
	}
}

func (o *instanceOutput) emit(line []byte) {
	if o.out != nil {
		_, _ = o.out.Write(line)
	}
	if o.sink != nil {
		text := string(bytes.TrimRight(line, "\r\n"))
		if text != "" {
			o.sink(o.stream, time.Now(), text)
		}
	}
}
