package wsproto

import "encoding/binary"

// maskBytes XORs b in place with the repeating 4-byte key, starting at key
// byte 0, and returns the key rotated so that masking can continue with the
// byte that follows b.
func maskBytes(b []byte, key [4]byte) [4]byte {
	if len(b) >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k64 := k32 | k32<<32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
	return rotateKey(key, len(b))
}

// rotateKey returns key rotated left by n mod 4 bytes.
func rotateKey(key [4]byte, n int) [4]byte {
	r := n & 3
	return [4]byte{key[r], key[(r+1)&3], key[(r+2)&3], key[(r+3)&3]}
}
