package concurrent

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestRunRunsEveryFunctionAndJoinsErrors(t *testing.T) {
	var ran atomic.Int32
	errA, errC := errors.New("a"), errors.New("c")
	err := Run(
		func() error { ran.Add(1); return errA },
		func() error { ran.Add(1); return nil },
		func() error { ran.Add(1); return errC },
	)
	if ran.Load() != 3 || !errors.Is(err, errA) || !errors.Is(err, errC) {
		t.Errorf("ran %d, err %v", ran.Load(), err)
	}
	if err := Run(); err != nil {
		t.Errorf("no functions: %v", err)
	}
}
