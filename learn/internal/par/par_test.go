package par_test

import (
	"testing"

	"github.com/mlops-lab/housing/learn/internal/par"
)

func TestForVisitsEachIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 7} {
		seen := make([]int32, 1000)
		par.For(len(seen), workers, func(i int) { seen[i]++ })
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("workers %d: index %d visited %d times", workers, i, c)
			}
		}
	}
	par.For(0, 4, func(int) { t.Fatal("called for n = 0") })
}

func TestGrowKeepsCapacity(t *testing.T) {
	buf := make([]float64, 3, 10)
	if g := par.Grow(buf, 8); len(g) != 8 || &g[0] != &buf[0] {
		t.Errorf("Grow within capacity reallocated or has length %d", len(g))
	}
	if g := par.Grow(buf, 11); len(g) != 11 {
		t.Errorf("Grow past capacity: length %d", len(g))
	}
}
