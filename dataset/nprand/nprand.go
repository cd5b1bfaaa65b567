// Package nprand reproduces the parts of NumPy's legacy random generator
// (numpy.random.RandomState, MT19937) that scikit-learn's splitters use, bit
// for bit, so that a split made here selects the same rows as one made by
// scikit-learn with the same random_state.
//
// Only what is needed is implemented: seeding from an integer, 32-bit draws,
// bounded integers by masked rejection sampling, and the legacy in-place
// shuffle and permutation.
package nprand

import "fmt"

const (
	stateLen   = 624
	shift      = 397
	matrixA    = 0x9908b0df
	upperMask  = 0x80000000
	lowerMask  = 0x7fffffff
	maxUint32  = 0xffffffff
	seedFactor = 1812433253
)

// RandomState is NumPy's legacy MT19937 generator. It is not safe for
// concurrent use.
type RandomState struct {
	key [stateLen]uint32
	pos int
}

// New returns the generator that numpy.random.RandomState(seed) creates.
// NumPy accepts integer seeds in [0, 2**32-1] and, for such a seed, runs
// MT19937's init_genrand (not init_by_array, which it uses for array seeds):
// RandomState(0).get_state()[1][:3] is [0, 1, 1812433255].
func New(seed uint32) *RandomState {
	r := &RandomState{}
	s := seed
	for i := range stateLen {
		r.key[i] = s
		s = seedFactor*(s^(s>>30)) + uint32(i) + 1
	}
	r.pos = stateLen
	return r
}

// NewInt64 is New for a seed held in an int64, refusing what NumPy refuses:
// seeds below 0 or above 2**32-1.
func NewInt64(seed int64) (*RandomState, error) {
	if seed < 0 || seed > maxUint32 {
		return nil, fmt.Errorf("nprand: seed %d out of range: numpy accepts 0 to 2**32-1", seed)
	}
	return New(uint32(seed)), nil
}

// generate refills the state block (MT19937's reload step).
func (r *RandomState) generate() {
	k := &r.key
	var i int
	for i = 0; i < stateLen-shift; i++ {
		y := (k[i] & upperMask) | (k[i+1] & lowerMask)
		k[i] = k[i+shift] ^ (y >> 1) ^ (-(y & 1) & matrixA)
	}
	for ; i < stateLen-1; i++ {
		y := (k[i] & upperMask) | (k[i+1] & lowerMask)
		k[i] = k[i+(shift-stateLen)] ^ (y >> 1) ^ (-(y & 1) & matrixA)
	}
	y := (k[stateLen-1] & upperMask) | (k[0] & lowerMask)
	k[stateLen-1] = k[shift-1] ^ (y >> 1) ^ (-(y & 1) & matrixA)
	r.pos = 0
}

// Uint32 returns the next 32-bit output (genrand_int32).
func (r *RandomState) Uint32() uint32 {
	if r.pos == stateLen {
		r.generate()
	}
	y := r.key[r.pos]
	r.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Uint64 returns two 32-bit outputs joined, the first as the high half, as
// NumPy's MT19937 next_uint64 does.
func (r *RandomState) Uint64() uint64 {
	hi := uint64(r.Uint32())
	return hi<<32 | uint64(r.Uint32())
}

// Interval returns a uniform integer in [0, max] the way NumPy's legacy
// random_interval does: draw, mask to the smallest all-ones mask covering
// max, reject values above max; 32-bit draws while max fits in 32 bits.
func (r *RandomState) Interval(max uint64) uint64 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	mask |= mask >> 32
	if max <= maxUint32 {
		for {
			if v := uint64(r.Uint32()) & mask; v <= max {
				return v
			}
		}
	}
	for {
		if v := r.Uint64() & mask; v <= max {
			return v
		}
	}
}

// Shuffle permutes x in place as RandomState.shuffle does for a 1-d array:
// Fisher-Yates from the last element down, swapping x[i] with x[Interval(i)].
func (r *RandomState) Shuffle(x []int) {
	for i := len(x) - 1; i > 0; i-- {
		j := r.Interval(uint64(i))
		x[i], x[j] = x[j], x[i]
	}
}

// Permutation returns RandomState.permutation(n): 0..n-1 shuffled.
// It panics if n is negative.
func (r *RandomState) Permutation(n int) []int {
	if n < 0 {
		panic(fmt.Sprintf("nprand: Permutation of negative length %d", n))
	}
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(p)
	return p
}
