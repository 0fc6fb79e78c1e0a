package cache

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/strata-cdn/strata/internal/cache/disk"
)

// The disk tier. Every stored object is also written to disk, streamed while
// it is fetched; the memory store holds the hot subset. A memory miss looks
// on disk: a small object is read into memory and admitted there (otter
// decides whether it stays), a large one is served from its file
// (sendfile). A corrupted or truncated file is never served: the disk store
// removes it and the request misses.

// diskMeta is what a disk entry's metadata holds: an object without its
// body, or a Vary marker.
type diskMeta struct {
	Vary           []string       `json:"vary,omitempty"` // a marker: the object sits under the variant key
	Marker         bool           `json:"marker,omitempty"`
	Status         int            `json:"status,omitempty"`
	Header         http.Header    `json:"header,omitempty"`
	RequestTime    time.Time      `json:"requestTime"`
	ResponseTime   time.Time      `json:"responseTime"`
	InitialAge     time.Duration  `json:"initialAge"`
	Lifetime       time.Duration  `json:"lifetime"`
	SWR            time.Duration  `json:"swr,omitempty"`
	SIE            *time.Duration `json:"sie,omitempty"` // nil: the origin sent no stale-if-error
	MustRevalidate bool           `json:"mustRevalidate,omitempty"`
}

func encodeMeta(o *Object) []byte {
	var sie *time.Duration
	if o.StaleIfError >= 0 {
		sie = &o.StaleIfError
	}
	b, _ := json.Marshal(diskMeta{Vary: o.VaryNames, Status: o.Status, Header: o.Header,
		RequestTime: o.RequestTime, ResponseTime: o.ResponseTime, InitialAge: o.InitialAge,
		Lifetime: o.Lifetime, SWR: o.StaleWhileRevalidate, SIE: sie, MustRevalidate: o.MustRevalidate})
	return b
}

func (m *diskMeta) object(body *Body) *Object {
	sie := time.Duration(-1)
	if m.SIE != nil {
		sie = *m.SIE
	}
	return &Object{Status: m.Status, Header: m.Header, Body: body, RequestTime: m.RequestTime,
		ResponseTime: m.ResponseTime, InitialAge: m.InitialAge, Lifetime: m.Lifetime,
		StaleWhileRevalidate: m.SWR, StaleIfError: sie, MustRevalidate: m.MustRevalidate, VaryNames: m.Vary}
}

// AttachDisk adds the disk tier d. Objects up to promote bytes read from disk
// are copied into memory.
func (s *Store) AttachDisk(d *disk.Store, promote int64, log *slog.Logger) {
	s.disk, s.promote, s.log = d, promote, log
}

// Disk returns the disk tier, or nil.
func (s *Store) Disk() *disk.Store { return s.disk }

// getDisk looks key up on disk, following a Vary marker. When the returned
// object's body is a file, the caller owns it (Release or Share it).
func (s *Store) getDisk(key string, req func() http.Header) *Object {
	e, err := s.disk.Get(key)
	if err != nil {
		s.diskError(key, err)
		return nil
	}
	var m diskMeta
	if err := json.Unmarshal(e.Meta, &m); err != nil {
		e.Close()
		s.disk.Delete(key)
		return nil
	}
	vkey := key
	if m.Marker {
		e.Close()
		vkey = variantKey(key, m.Vary, req())
		if e, err = s.disk.Get(vkey); err != nil {
			s.diskError(vkey, err)
			return nil
		}
		m = diskMeta{}
		if err := json.Unmarshal(e.Meta, &m); err != nil {
			e.Close()
			s.disk.Delete(vkey)
			return nil
		}
	}
	if e.Size <= s.promote {
		body := BodyFrom(BodyFromEntry(e).Bytes())
		e.Close()
		if body.Size() != e.Size {
			s.disk.Delete(vkey)
			return nil
		}
		o := m.object(body)
		s.putMemory(key, vkey, o)
		return o
	}
	return m.object(BodyFromEntry(e))
}

func (s *Store) diskError(key string, err error) {
	if errors.Is(err, disk.ErrCorrupt) && s.log != nil {
		s.log.Warn("corrupt cache file removed", "stage", "cache", "err", err.Error())
	}
}

// DiskWrite streams one object to the disk tier.
type DiskWrite struct {
	w *disk.Writer
}

// BeginDisk starts writing o (whose body is still arriving) to disk under
// the key it is stored under; nil when there is no disk tier or it refuses
// (too large, closed).
func (s *Store) BeginDisk(key string, req http.Header, o *Object, sizeHint int64) *DiskWrite {
	if s.disk == nil {
		return nil
	}
	vkey := key
	if len(o.VaryNames) > 0 {
		vkey = variantKey(key, o.VaryNames, req)
		marker, _ := json.Marshal(diskMeta{Marker: true, Vary: o.VaryNames})
		if w, err := s.disk.Create(key, marker, int64(0)); err == nil {
			if err := w.Commit(); err != nil {
				return nil
			}
		}
	}
	w, err := s.disk.Create(vkey, encodeMeta(o), sizeHint)
	if err != nil {
		return nil
	}
	return &DiskWrite{w: w}
}

// Write appends body bytes; after an error the write is abandoned.
func (d *DiskWrite) Write(p []byte) {
	if d == nil || d.w == nil {
		return
	}
	if _, err := d.w.Write(p); err != nil {
		d.w.Abort()
		d.w = nil
	}
}

// Finish commits the entry (err == nil) or discards it.
func (d *DiskWrite) Finish(err error) {
	if d == nil || d.w == nil {
		return
	}
	w := d.w
	d.w = nil
	if err != nil {
		w.Abort()
		return
	}
	w.Commit()
}

// Refresh stores o, which replaces a stored object after a 304 (same body):
// in memory when its body is in memory, and as new metadata on disk.
func (s *Store) Refresh(key string, req http.Header, o *Object) {
	if !o.Body.OnDisk() {
		s.Put(key, req, o)
	}
	if s.disk == nil {
		return
	}
	vkey := key
	if len(o.VaryNames) > 0 {
		vkey = variantKey(key, o.VaryNames, req)
	}
	s.disk.UpdateMeta(vkey, encodeMeta(o))
}
