// scanload: the benchmark's open-loop load generator for single scans.
//
// It POSTs one request body per line of a file, request i being due at start + i/rate whatever the answers
// so far (open loop): a request whose turn comes while every connection waits for an answer gets a new
// connection. Each result carries the time the request was sent and the time its answer was read, both
// from the start, so the caller counts latency from when the request was due (correcting for coordinated
// omission) and from when it was sent.
//
// It speaks just enough HTTP/1.1 for that (keep-alive, Content-Length or chunked answers, Connection: close,
// the answers that never have a body: interim 1xx ones before the final answer, 204 and 304) on raw
// connections, one goroutine per connection: the benchmark runs it on the two cores it measures, so what it
// spends per request is taken from the service (docs/decisions/0004 has the figures against vegeta).
//
// Output (-out): a header line "start_unix_ns <n>", then one line per request in order:
// "<seq> <sent_ns> <done_ns> <status> <error>", status 0 and an error word when no answer was read.
// Progress (requests sent and answered) goes to stdout once a second.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	sent   int64 // ns from the start; -1 when never sent
	done   int64
	status int
	err    string
}

type run struct {
	addr     string
	requests [][]byte
	rate     float64
	timeout  time.Duration
	start    time.Time
	results  []result
	idle     chan *conn
	wg       sync.WaitGroup
	sent     atomic.Int64
	answered atomic.Int64
}

type conn struct {
	run  *run
	c    net.Conn
	r    *bufio.Reader
	jobs chan int
}

func (r *run) due(seq int) time.Duration {
	return time.Duration(float64(seq) / r.rate * float64(time.Second))
}

func (c *conn) serve() {
	r := c.run
	for seq := range c.jobs {
		res := &r.results[seq]
		deadline := r.start.Add(r.due(seq) + r.timeout)
		if c.c == nil {
			dialer := net.Dialer{Deadline: deadline}
			nc, err := dialer.Dial("tcp", r.addr)
			if err != nil {
				res.sent, res.done, res.err = -1, int64(time.Since(r.start)), word(err)
				r.finish()
				r.idle <- c
				continue
			}
			c.c, c.r = nc, bufio.NewReaderSize(nc, 4096)
		}
		_ = c.c.SetDeadline(deadline)
		res.sent = int64(time.Since(r.start))
		r.sent.Add(1)
		status, keep, err := c.exchange(r.requests[seq])
		res.done = int64(time.Since(r.start))
		res.status = status
		if err != nil {
			res.err = word(err)
		}
		if err != nil || !keep {
			_ = c.c.Close()
			c.c, c.r = nil, nil
		}
		r.finish()
		r.idle <- c
	}
	if c.c != nil {
		_ = c.c.Close()
	}
}

func (r *run) finish() {
	r.answered.Add(1)
	r.wg.Done()
}

// exchange writes one request and reads its answer: the status, and whether the connection may be used again.
func (c *conn) exchange(request []byte) (int, bool, error) {
	if _, err := c.c.Write(request); err != nil {
		return 0, false, err
	}
	for {
		status, keep, err := c.answer()
		// An interim answer (1xx: 100 Continue, 103 Early Hints) has no body; the final one follows it.
		if err != nil || status >= 200 {
			return status, keep, err
		}
	}
}

// answer reads one answer: its status line, its headers, and its body if it has one.
func (c *conn) answer() (int, bool, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	fields := bytes.Fields(line)
	if len(fields) < 2 || !bytes.HasPrefix(fields[0], []byte("HTTP/1.")) {
		return 0, false, errors.New("malformed_status_line")
	}
	status, err := strconv.Atoi(string(fields[1]))
	if err != nil || status < 100 || status > 999 {
		return 0, false, errors.New("malformed_status_line")
	}
	keep := bytes.Equal(fields[0], []byte("HTTP/1.1"))
	length, chunked := -1, false
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		header := bytes.TrimRight(line, "\r\n")
		if len(header) == 0 {
			break
		}
		name, value, ok := bytes.Cut(header, []byte(":"))
		if !ok {
			return status, false, errors.New("malformed_header")
		}
		value = bytes.TrimSpace(value)
		switch strings.ToLower(string(name)) {
		case "content-length":
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return status, false, errors.New("malformed_content_length")
			}
		case "transfer-encoding":
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case "connection":
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	switch {
	case status < 200 || status == 204 || status == 304: // never a body, whatever the headers say (RFC 9112 §6.3)
	case chunked:
		err = discardChunked(c.r)
	case length >= 0:
		_, err = c.r.Discard(length)
	default: // the body runs to the end of the connection
		_, err = io.Copy(io.Discard, c.r)
		keep = false
	}
	return status, keep && err == nil, err
}

func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return errors.New("malformed_chunk")
		}
		if size == 0 { // the last chunk, then trailers up to an empty line
			for {
				line, err = r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err = r.Discard(int(size) + 2); err != nil {
			return err
		}
	}
}

// word names an error in one word for the results file: timeout, refused, reset, eof, or the error's own.
func word(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case strings.Contains(err.Error(), "connection refused"):
		return "refused"
	case strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case strings.Contains(err.Error(), "broken pipe"):
		return "broken_pipe"
	}
	return strings.Join(strings.Fields(err.Error()), "_")
}

func readRequests(path, host, target, contentType string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var requests [][]byte
	for _, body := range bytes.Split(data, []byte("\n")) {
		if len(body) == 0 {
			continue
		}
		head := fmt.Sprintf(
			"POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: antoan-scanload\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			target, host, contentType, len(body))
		requests = append(requests, append([]byte(head), body...))
	}
	return requests, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "the service's host:port")
	target := flag.String("path", "/", "the request path")
	bodies := flag.String("bodies", "", "a file of request bodies, one per line")
	rate := flag.Float64("rate", 100, "requests per second")
	timeout := flag.Duration("timeout", 30*time.Second, "how long after it was due a request may take")
	maxConns := flag.Int("max-conns", 10000, "connections open at most")
	contentType := flag.String("content-type", "application/json", "the bodies' Content-Type")
	out := flag.String("out", "", "the results file")
	flag.Parse()
	if *bodies == "" || *out == "" || *rate <= 0 || *maxConns < 1 {
		fmt.Fprintln(os.Stderr, "usage: scanload -addr host:port -path /p -bodies FILE -rate N -out FILE")
		os.Exit(2)
	}
	requests, err := readRequests(*bodies, *addr, *target, *contentType)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := &run{
		addr: *addr, requests: requests, rate: *rate, timeout: *timeout,
		results: make([]result, len(requests)), idle: make(chan *conn, *maxConns),
	}
	r.wg.Add(len(requests))
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fmt.Printf("progress sent=%d answered=%d of=%d\n", r.sent.Load(), r.answered.Load(), len(requests))
			}
		}
	}()
	var conns []*conn
	r.start = time.Now()
	for seq := range requests {
		if wait := r.due(seq) - time.Since(r.start); wait > 0 {
			time.Sleep(wait)
		}
		var c *conn
		select {
		case c = <-r.idle:
		default:
			if len(conns) < *maxConns {
				c = &conn{run: r, jobs: make(chan int, 1)}
				conns = append(conns, c)
				go c.serve()
			} else {
				c = <-r.idle // every connection busy: this one goes late, and its latency says so
			}
		}
		c.jobs <- seq
	}
	r.wg.Wait()
	close(stop)
	for _, c := range conns {
		close(c.jobs)
	}
	if err := write(*out, r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func write(path string, r *run) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "start_unix_ns %d\n", r.start.UnixNano())
	for seq, res := range r.results {
		e := res.err
		if e == "" {
			e = "-"
		}
		fmt.Fprintf(w, "%d %d %d %d %s\n", seq, res.sent, res.done, res.status, e)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
