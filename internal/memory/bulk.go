package memory

import (
	"context"

	"github.com/songqueue/songqueue/internal/service"
)

// CreateBulk implements service.BulkStore.
func (s *Store) CreateBulk(_ context.Context, b service.Bulk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bulks == nil {
		s.bulks = map[string]service.Bulk{}
	}
	if _, ok := s.bulks[b.ID]; ok {
		return service.ErrConflict
	}
	b.Version = 1
	s.bulks[b.ID] = b
	return nil
}

// Bulk implements service.BulkStore.
func (s *Store) Bulk(_ context.Context, id string) (service.Bulk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bulks[id]
	if !ok {
		return service.Bulk{}, service.ErrNotFound
	}
	return b, nil
}

// SaveBulk implements service.BulkStore.
func (s *Store) SaveBulk(_ context.Context, b service.Bulk) (service.Bulk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.bulks[b.ID]
	if !ok {
		return service.Bulk{}, service.ErrNotFound
	}
	if cur.Version != b.Version {
		return service.Bulk{}, service.ErrConflict
	}
	b.Version++
	s.bulks[b.ID] = b
	return b, nil
}

// maxAudit bounds the audit entries kept in memory.
const maxAudit = 1000

// RecordAudit implements service.AuditLog.
func (s *Store) RecordAudit(_ context.Context, e service.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	if len(s.audit) > maxAudit {
		s.audit = s.audit[len(s.audit)-maxAudit:]
	}
	return nil
}

// RecentAudit implements service.AuditLog.
func (s *Store) RecentAudit(_ context.Context, limit int) ([]service.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]service.AuditEntry, 0, min(limit, len(s.audit)))
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, s.audit[i])
	}
	return out, nil
}
