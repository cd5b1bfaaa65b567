package nprand_test

import (
	"slices"
	"testing"

	"github.com/mlops-lab/housing/dataset/nprand"
)

// The expected values below were produced once by NumPy 1.24.2's legacy
// generator with /usr/bin/python3, e.g.
//
//	np.random.RandomState(42).randint(0, 2**32, size=5, dtype=np.uint64)
//	np.random.RandomState(0).permutation(10)
//	np.random.RandomState(42).permutation(20640)[:20]
//
// They are reference values from NumPy, not outputs of this package.

func TestUint32MatchesNumPy(t *testing.T) {
	cases := []struct {
		seed uint32
		want []uint32
	}{
		{42, []uint32{1608637542, 3421126067, 4083286876, 787846414, 3143890026}},
		{0, []uint32{2357136044, 2546248239, 3071714933, 3626093760, 2588848963}},
	}
	for _, c := range cases {
		r := nprand.New(c.seed)
		got := make([]uint32, len(c.want))
		for i := range got {
			got[i] = r.Uint32()
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("seed %d: got %v, numpy gives %v", c.seed, got, c.want)
		}
	}
}

func TestPermutationMatchesNumPy(t *testing.T) {
	cases := []struct {
		seed uint32
		n    int
		want []int // a prefix of the permutation
	}{
		{0, 10, []int{2, 8, 4, 9, 1, 6, 7, 3, 0, 5}},
		{12345, 7, []int{6, 3, 4, 0, 1, 5, 2}},
		{42, 20640, []int{20046, 3024, 15663, 20484, 9814, 13311, 7113, 7668, 18246, 5723,
			20069, 6835, 11351, 20267, 7097, 6298, 696, 19607, 14173, 19638}},
	}
	for _, c := range cases {
		got := nprand.New(c.seed).Permutation(c.n)
		if len(got) != c.n {
			t.Fatalf("seed %d: permutation of %d has length %d", c.seed, c.n, len(got))
		}
		if !slices.Equal(got[:len(c.want)], c.want) {
			t.Errorf("seed %d n %d: got prefix %v, numpy gives %v", c.seed, c.n, got[:len(c.want)], c.want)
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		for i, v := range sorted {
			if v != i {
				t.Fatalf("seed %d: not a permutation of 0..%d (sorted[%d] = %d)", c.seed, c.n-1, i, v)
			}
		}
	}
}

func TestIntervalStaysInRange(t *testing.T) {
	r := nprand.New(7)
	for _, max := range []uint64{0, 1, 5, 1 << 31, 1<<32 - 1, 1 << 32, 1<<40 + 3} {
		for range 200 {
			if v := r.Interval(max); v > max {
				t.Fatalf("Interval(%d) = %d", max, v)
			}
		}
	}
}

func TestNewInt64RefusesWhatNumPyRefuses(t *testing.T) {
	for _, s := range []int64{-1, 1 << 32} {
		if _, err := nprand.NewInt64(s); err == nil {
			t.Errorf("NewInt64(%d): no error", s)
		}
	}
	r, err := nprand.NewInt64(1<<32 - 1)
	if err != nil {
		t.Fatalf("NewInt64(2**32-1): %v", err)
	}
	if a, b := r.Uint32(), nprand.New(1<<32-1).Uint32(); a != b {
		t.Errorf("NewInt64 and New disagree: %d vs %d", a, b)
	}
}
