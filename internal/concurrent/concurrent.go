// Package concurrent runs independent pieces of work at once: the reads
// of one request, which on PostgreSQL are a round trip each.
package concurrent

import (
	"errors"
	"sync"
)

// Run runs fns at once and returns their errors joined. The first runs on
// the caller's goroutine, whose stack has already grown to what a
// database call needs.
func Run(fns ...func() error) error {
	if len(fns) == 0 {
		return nil
	}
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns[1:] {
		wg.Go(func() { errs[i+1] = fn() })
	}
	errs[0] = fns[0]()
	wg.Wait()
	return errors.Join(errs...)
}
