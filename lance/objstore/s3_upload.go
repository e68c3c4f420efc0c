package objstore

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// Create streams an object: bytes collect in a part buffer; the first full
// part starts a multipart upload and every part is uploaded in the
// background while the writer fills the next one (at most two parts in
// flight). An object smaller than one part is one PUT at Close.
func (s *S3) Create(ctx context.Context, key string) (Upload, error) {
	ps := s.PartSize
	if ps <= 0 {
		ps = DefaultPartSize
	}
	return &s3Upload{s: s, ctx: ctx, key: key, partSize: ps, sem: make(chan struct{}, 2)}, nil
}

type s3Upload struct {
	s        *S3
	ctx      context.Context
	key      string
	partSize int
	buf      []byte

	uploadID string
	next     int // number of the next part (1-based)
	wg       sync.WaitGroup
	sem      chan struct{}
	mu       sync.Mutex
	etags    map[int]string
	err      error
	done     bool
}

func (u *s3Upload) Write(b []byte) (int, error) {
	if err := u.failed(); err != nil {
		return 0, err
	}
	n := len(b)
	for len(b) > 0 {
		if u.buf == nil {
			u.buf = make([]byte, 0, u.partSize)
		}
		k := min(len(b), u.partSize-len(u.buf))
		u.buf = append(u.buf, b[:k]...)
		b = b[k:]
		if len(u.buf) == u.partSize {
			if err := u.sendPart(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (u *s3Upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *s3Upload) sendPart() error {
	if u.uploadID == "" {
		r, _, err := u.s.c.do(u.ctx, "POST (create multipart upload)", s3Request{method: http.MethodPost, key: u.key,
			query: map[string]string{"uploads": ""}})
		if err != nil {
			return err
		}
		var x struct {
			UploadID string `xml:"UploadId"`
		}
		if err := xml.Unmarshal(r.body, &x); err != nil || x.UploadID == "" {
			return fmt.Errorf("%w: create multipart upload %s: no UploadId in the answer", ErrStore, u.s.URL(u.key))
		}
		u.uploadID, u.next, u.etags = x.UploadID, 1, map[int]string{}
	}
	part, data := u.next, u.buf
	u.next++
	u.buf = nil
	u.sem <- struct{}{}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() { <-u.sem }()
		r, _, err := u.s.c.do(u.ctx, "PUT (upload part "+strconv.Itoa(part)+")", s3Request{method: http.MethodPut, key: u.key, body: data,
			query: map[string]string{"partNumber": strconv.Itoa(part), "uploadId": u.uploadID}})
		u.mu.Lock()
		defer u.mu.Unlock()
		if err != nil {
			if u.err == nil {
				u.err = err
			}
			return
		}
		u.etags[part] = r.header.Get("ETag")
	}()
	return nil
}

func (u *s3Upload) Close() error {
	if u.done {
		return fmt.Errorf("%w: %s: upload already closed", ErrStore, u.s.URL(u.key))
	}
	u.done = true
	if u.uploadID == "" {
		return u.s.Put(u.ctx, u.key, u.buf)
	}
	if len(u.buf) > 0 {
		if err := u.sendPart(); err != nil {
			u.abortMultipart(err)
			return err
		}
	}
	u.wg.Wait()
	if u.err != nil {
		u.abortMultipart(u.err)
		return u.err
	}
	type part struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	}
	var body struct {
		XMLName xml.Name `xml:"CompleteMultipartUpload"`
		Parts   []part   `xml:"Part"`
	}
	for i := 1; i < u.next; i++ {
		body.Parts = append(body.Parts, part{PartNumber: i, ETag: u.etags[i]})
	}
	b, _ := xml.Marshal(body)
	r, _, err := u.s.c.do(u.ctx, "POST (complete multipart upload)", s3Request{method: http.MethodPost, key: u.key, body: b,
		query: map[string]string{"uploadId": u.uploadID}})
	if err != nil {
		u.abortMultipart(err)
		return err
	}
	// S3 may answer 200 with an error document once it started the answer.
	var x struct {
		XMLName xml.Name
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal(r.body, &x) == nil && x.XMLName.Local == "Error" {
		u.abortMultipart(nil)
		return fmt.Errorf("%w: complete multipart upload %s: %s: %s", ErrStore, u.s.URL(u.key), x.Code, x.Message)
	}
	return nil
}

func (u *s3Upload) Abort() {
	if u.done {
		return
	}
	u.done = true
	u.wg.Wait()
	u.abortMultipart(nil)
}

// abortMultipart aborts the upload after it failed with cause (nil: a
// part's failure, if any). A cause that got no answer sends no abort: it
// would wait a whole retry budget again for the same silence, doubling the
// time a flush takes to fail; what a server keeps of an upload never
// aborted is invisible to readers (a lifecycle rule reaps it).
func (u *s3Upload) abortMultipart(cause error) {
	if u.uploadID == "" {
		return
	}
	u.wg.Wait()
	if cause == nil {
		cause = u.failed()
	}
	if errors.Is(cause, ErrNoAnswer) {
		return
	}
	u.s.c.do(context.Background(), "DELETE (abort multipart upload)", s3Request{method: http.MethodDelete, key: u.key, //nolint:errcheck // best effort: a lifecycle rule reaps what remains
		query: map[string]string{"uploadId": u.uploadID}, okStatus: []int{http.StatusNotFound}})
}
